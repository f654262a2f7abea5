"""The tracking links in a simulation: no sign-in, the recipient's token is the credential.

An open, a click or a report is one statement on PostgreSQL (two on SQLite): the recipient's
summary updated and the event inserted (tracking.record_hit_by_token). An unknown,
malformed or never-sent token (a test send's links, a cancelled recipient's) answers the same bare 404 —
the same bytes whichever it is, so a response tells nothing about which tokens exist — and
records nothing. A token used again is a hit again (raw figures count hits; rates count people
once). A submitted fake form records only that it was submitted: the fields have no names, so a
browser posts no values, and the server never reads any it is sent anyway.

``/p/h/<token>/`` is the landing page's human signal (tracking.py, the "no human signal" rule):
always an empty 204, whatever the token.
"""

import base64
import re

from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from bastion.lib.markdown import render_markdown

from . import actions, tracking
from .models import EventKind, Recipient, RecipientStatus

_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _recipient(token: str, *related: str) -> Recipient:
    if not _TOKEN.fullmatch(token):
        raise Http404
    recipients = Recipient.objects.select_related(*related) if related else Recipient.objects
    # Sent, or "unknown" (it may have arrived: a hit on its link says it did).
    found = list(recipients.filter(Q(sent_at__isnull=False) | Q(status=RecipientStatus.UNKNOWN), token=token)
                 .order_by()[:1])  # the token is unique: no ordering to compile or sort
    if not found:
        raise Http404
    return found[0]


def _not_found() -> HttpResponse:
    return HttpResponse("Not found.", status=404, content_type="text/plain")


@never_cache
@require_http_methods(["GET", "HEAD"])
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    if not _TOKEN.fullmatch(token) or tracking.record_hit_by_token(request, token, EventKind.OPENED) is None:
        return _not_found()
    return HttpResponse(PIXEL, content_type="image/gif")


def _human_step(request: HttpRequest, recipient: Recipient, kind: str) -> None:
    event = tracking.record_hit(request, recipient, kind)
    if kind == EventKind.SUBMITTED and not event.automated:
        tracking.human_signal(recipient.pk)  # a person filled in the form after their click
    # A click the "no human signal" rule still judges is not yet a person's: its training waits
    # for the signal (tracking.human_signal).
    if not event.automated and not tracking.awaits_human_signal(event):
        actions.apply_remedial(recipient, kind)


@never_cache
@require_http_methods(["GET", "HEAD"])
def click(request: HttpRequest, token: str) -> HttpResponse:
    hit = tracking.record_hit_by_token(request, token, EventKind.CLICKED) if _TOKEN.fullmatch(token) else None
    if hit is None:
        return _not_found()
    # A click the "no human signal" rule still judges is not yet a person's: its training waits
    # for the signal (tracking.human_signal).
    if hit.remedial_programme and not hit.event.automated and not tracking.awaits_human_signal(hit.event):
        actions.apply_remedial(Recipient.objects.select_related("campaign").get(pk=hit.event.recipient_id),
                               EventKind.CLICKED)
    return HttpResponseRedirect(f"/p/l/{token}/")


@never_cache
@require_http_methods(["GET"])
def landing(request: HttpRequest, token: str) -> HttpResponse:
    try:
        recipient = _recipient(token, "campaign__landing_page", "template")
    except Http404:
        return _not_found()
    return _landing_page(request, recipient, submitted=request.GET.get("submitted") == "1")


def _landing_page(request: HttpRequest, recipient: Recipient, submitted: bool) -> HttpResponse:
    page = recipient.campaign.landing_page
    return render(request, "phishing/landing.html", {
        "page": page, "body": render_markdown(page.body_markdown), "recipient": recipient,
        "show_form": page.shows_form and not submitted, "submitted": submitted,
        "red_flags": recipient.template.red_flags,
        "remedial": recipient.remedial_at is not None and not recipient.remedial_problem,
    })


@never_cache
@require_http_methods(["POST"])
def submit(request: HttpRequest, token: str) -> HttpResponse:
    # Nothing in request.POST is read, stored or logged: only the fact of the submission.
    try:
        recipient = _recipient(token, "campaign")
    except Http404:
        return _not_found()
    _human_step(request, recipient, EventKind.SUBMITTED)
    return HttpResponseRedirect(f"/p/l/{recipient.token}/?submitted=1")


@never_cache
@require_http_methods(["GET", "POST"])
def report(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "POST":
        if not _TOKEN.fullmatch(token) or tracking.record_hit_by_token(request, token, EventKind.REPORTED) is None:
            return _not_found()
        return render(request, "phishing/reported.html", {})
    try:
        recipient = _recipient(token)
    except Http404:
        return _not_found()
    return render(request, "phishing/report.html", {"token": recipient.token})


@csrf_exempt  # sent by the landing page's script; the token is the credential, as for every /p/ link
@never_cache
@require_http_methods(["POST"])
def human_signal(request: HttpRequest, token: str) -> HttpResponse:
    if _TOKEN.fullmatch(token):
        tracking.human_signal_by_token(token)
    return HttpResponse(status=204)
