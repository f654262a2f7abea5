from django.http import HttpResponse
from django.urls import path


def _todo(request):
    return HttpResponse("not built yet", status=501)


urlpatterns = [path("", _todo, name="audit-list")]
