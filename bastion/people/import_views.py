from django.http import HttpResponse


def _todo(request, pk=None):
    return HttpResponse("not built yet", status=501)


import_upload = import_preview = _todo
