"""The security team's pages for reported email under /phishing/reports/ (the list, newest
first, by status; one report with its headers, text, links and attachments, all shown as text,
with its triage form; the message itself as a download) and the reporting mailboxes under
/phishing/mailboxes/ (settings, with the password never shown back; the last poll and its
error; a connection test; what each recent message turned out to be).

Every object comes through access.py; every write through reports.py's do_* actions, whose
refusals are shown beside the form with nothing saved."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from bastion.lib.http import AuthedRequest, render_region

from . import access, mailbox, reports
from .models import MailboxMessage, ReportingMailbox, ReportStatus
from .report_forms import MailboxForm, TriageForm
from .reports_api import filtered

PER_PAGE = 50
LOG_SIZE = 50
STATUS_FILTERS = [("open", "Open (new and triaging)"), *ReportStatus.choices, ("all", "All")]


def _attach(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for name, problems in error.message_dict.items():
            form.add_error(name if name in form.fields else None, problems)
    else:
        form.add_error(None, error.messages)


# --- reported email --------------------------------------------------------------------------


@login_required
def report_list(request: AuthedRequest) -> HttpResponse:
    found = access.reports_visible_to(request.user)
    status = request.GET.get("status") or "open"
    if status not in dict(STATUS_FILTERS):
        status = "open"
    found = (filtered(found, status).select_related("reporter", "assigned_to")
             .only("id", "status", "verdict", "received_at", "reporter_email", "reporter_verified", "subject",
                   "original_from",
                   "reporter__first_name", "reporter__last_name", "assigned_to__email", "assigned_to__full_name")
             .order_by("-received_at", "-id"))
    page = Paginator(found, PER_PAGE).get_page(request.GET.get("page"))
    return render_region(request, "phishing/reports/report_list.html", "reports", {
        "page_obj": page, "status": status, "filters": STATUS_FILTERS})


@login_required
def report_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    report = access.get_report_for_triage(request.user, pk, message=False)
    initial = {"status": report.status, "verdict": report.verdict, "note": report.note,
               "assigned_to": report.assigned_to_id}
    form = TriageForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            reports.do_triage(report, acting_user=request.user, status=data["status"], verdict=data["verdict"],
                              note=data["note"], assign=True, assigned_to=data["assigned_to"],
                              thank=data["thank"])
        except ValidationError as error:
            _attach(form, error)
        else:
            messages.success(request, "The report is updated.")
            return redirect(f"/phishing/reports/{report.pk}/")
    return render(request, "phishing/reports/report_detail.html", {"report": report, "form": form},
                  status=422 if form.errors else 200)


@login_required
def report_message(request: AuthedRequest, pk: int) -> HttpResponse:
    """The message as received, as a download: never shown in the browser."""
    report = access.get_report_for_triage(request.user, pk)
    response = HttpResponse(bytes(report.raw), content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="reported-email-{report.pk}.eml"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


# --- reporting mailboxes ---------------------------------------------------------------------


@login_required
def mailbox_list(request: AuthedRequest) -> HttpResponse:
    mailboxes = list(access.mailboxes_visible_to(request.user).order_by("name")[:100])
    # The log names who reported what: reported email is for the security team alone.
    show_log = access.can_triage_reports(request.user)
    log = (MailboxMessage.objects.filter(mailbox__in=mailboxes).select_related("mailbox", "recipient")
           .order_by("-received_at", "-id")[:LOG_SIZE]) if show_log else []
    return render(request, "phishing/reports/mailbox_list.html", {
        "mailboxes": mailboxes, "log": log, "show_log": show_log,
        "can_manage": access.can_manage_phishing(request.user)})


def _initial(found: ReportingMailbox) -> dict:
    return {f: getattr(found, f) for f in reports.MAILBOX_FIELDS}


@login_required
def mailbox_edit(request: AuthedRequest, pk: int | None = None) -> HttpResponse:
    found = access.get_mailbox_for_manage(request.user, pk) if pk is not None else None
    if found is None:
        access.require_manager(request.user)
    form = MailboxForm(request.POST if request.method == "POST" else None,
                       initial=_initial(found) if found else None, editing=found is not None)
    if request.method == "POST" and form.is_valid():
        try:
            saved = reports.do_save_mailbox(found, acting_user=request.user, **form.cleaned_data)
        except ValidationError as error:
            _attach(form, error)
        else:
            messages.success(request, f"Reporting mailbox “{saved.name}” is saved.")
            return redirect("/phishing/mailboxes/")
    return render(request, "phishing/reports/mailbox_form.html", {"form": form, "mailbox": found},
                  status=422 if form.errors else 200)


@login_required
@require_POST
def mailbox_test(request: AuthedRequest, pk: int) -> HttpResponse:
    found = access.get_mailbox_for_manage(request.user, pk)
    try:
        messages.success(request, mailbox.test_connection(found))
    except ValueError as error:
        messages.error(request, f"The test of “{found.name}” failed: {error}")
    return redirect("/phishing/mailboxes/")
