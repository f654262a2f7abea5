from django.http import HttpResponse


def _todo(request, pk=None):
    return HttpResponse("not built yet", status=501)


person_list = person_create = person_detail = person_edit = _todo
group_list = group_create = group_detail = group_edit = _todo
