"""The outbox: every email Bastion has sent or will send, its status, and retrying it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from bastion.lib.emails import email_configured

from . import access, actions
from .forms import OutboxFilterForm, TestEmailForm
from .models import MessageStatus

PER_PAGE = 50


@login_required
def outbox_list(request: HttpRequest) -> HttpResponse:
    return _render_list(request, TestEmailForm())


@login_required
@require_POST
def send_test_email(request: HttpRequest) -> HttpResponse:
    if not access.can_retry_outbox(request.user):
        raise PermissionDenied
    form = TestEmailForm(request.POST)
    if not form.is_valid():
        return _render_list(request, form, status=400)
    message = actions.do_queue_test_email(acting_user=request.user, to=form.cleaned_data["to"], request=request)
    if message.status == MessageStatus.HELD:
        messages.warning(request, "No mail server is configured, so the test email is held in the outbox, not sent.")
    else:
        messages.success(request, f"Test email to {message.to} queued. Its status below shows whether it was sent.")
    return redirect(f"/outbox/{message.pk}/")


@login_required
def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    message = access.get_message_for_view(request.user, pk)
    return render(request, "outbox/message_detail.html", {
        "message": message,
        "can_retry": access.can_retry_outbox(request.user) and message.status in actions.RETRYABLE,
        "email_configured": email_configured(),
    })


@login_required
@require_POST
def message_retry(request: HttpRequest, pk: int) -> HttpResponse:
    message = access.get_message_for_retry(request.user, pk)
    try:
        actions.do_retry_message(acting_user=request.user, message=message, request=request)
    except actions.CannotRetry as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "The message is queued to be sent again.")
    return redirect(f"/outbox/{message.pk}/")


def _render_list(request: HttpRequest, test_form: TestEmailForm, status: int = 200) -> HttpResponse:
    outbox = access.outbox_visible_to(request.user)
    filters = OutboxFilterForm(request.GET)
    if filters.is_valid():
        if filters.cleaned_data["status"]:
            outbox = outbox.filter(status=filters.cleaned_data["status"])
        if recipient := filters.cleaned_data["to"].strip():
            outbox = outbox.filter(to__icontains=recipient)
    outbox = outbox.only("pk", "to", "subject", "status", "attempts", "created_at", "sent_at", "next_attempt_at")
    page = Paginator(outbox, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "outbox/outbox_list.html", {
        "page_obj": page,
        "filters": filters,
        "test_form": test_form,
        "can_send": access.can_retry_outbox(request.user),
        "email_configured": email_configured(),
    }, status=status)
