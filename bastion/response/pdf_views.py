"""The plan as PDF: GET /plan/versions/<n>/plan.pdf.

The version comes through access.py with the same visibility as the version's page: those who
read every version get any of them, with the full approval record and the acknowledgements;
everyone else signed in gets the version in force only (a draft or an old version is "not
found"), with the approvals that put it in force.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from . import access
from .pdf import plan_pdf_filename, render_plan_pdf


@require_GET
@login_required
def version_pdf(request: HttpRequest, number: int) -> HttpResponse:
    plan = access.current_plan_for_view(request.user)
    version = access.get_version_for_view(request.user, plan, number)
    pdf = render_plan_pdf(version, full_record=access.can_view_all_versions(request.user))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{plan_pdf_filename(version)}"'
    return response
