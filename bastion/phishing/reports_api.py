"""Reported emails over JSON: list (newest first, by status), one report, triage (PATCH); and the
reporting mailboxes (list, create, change, test the connection). The same access helpers and
actions as the pages (access.py, reports.py)."""

from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from bastion.accounts.models import User
from bastion.lib.http import MAX_ID

from . import access, mailbox, reports
from .models import ReportedEmail, ReportingMailbox, ReportStatus

reports_router = Router()
mailboxes_router = Router()


class Detail(Schema):
    detail: str


class ReportSummary(Schema):
    id: int
    status: str
    verdict: str
    received_at: datetime
    reporter_email: str
    reporter: int | None = Field(description="The reporter's directory record, when the From address matched")
    reporter_verified: bool = Field(description="The organisation's mail server authenticated the From address "
                                                "(DMARC, or aligned DKIM or SPF); false: anyone could have written it")
    subject: str
    original_from: str
    assigned_to: str | None = Field(description="The analyst's email")

    @staticmethod
    def resolve_reporter(obj: ReportedEmail) -> int | None:
        return obj.reporter_id

    @staticmethod
    def resolve_assigned_to(obj: ReportedEmail) -> str | None:
        return obj.assigned_to.email if obj.assigned_to else None


class ReportPage(Schema):
    items: list[ReportSummary]
    count: int


class AttachmentOut(Schema):
    name: str
    content_type: str
    size: int
    sha256: str


class ReportOut(ReportSummary):
    message_id: str
    original_to: str
    original_date: datetime | None
    headers: list[list[str]]
    body_text: str = Field(description="Extracted text; never HTML to render")
    urls: list[str]
    attachments: list[AttachmentOut]
    problems: list[str]
    size: int = Field(description="The message's size as received, in bytes")
    stored_size: int = Field(description="Bytes kept (the message is cut at 10 MB)")
    sha256: str = Field(description="SHA-256 of the bytes kept")
    note: str
    triaged_at: datetime | None
    thanked_at: datetime | None

    @staticmethod
    def resolve_size(obj: ReportedEmail) -> int:
        return obj.raw_size

    @staticmethod
    def resolve_stored_size(obj: ReportedEmail) -> int:
        return obj.kept_size


class ListParams(Schema):
    status: Literal["new", "triaging", "resolved", "open", "all"] = Field(
        "all", description="open: new and triaging")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10_000_000)


class TriageIn(Schema):
    model_config = ConfigDict(extra="forbid")

    status: Literal["new", "triaging", "resolved"] | None = None
    verdict: Literal["", "phishing", "spam", "harmless", "simulation"] | None = None
    note: str | None = Field(None, max_length=20_000)
    assigned_to: int | None = Field(None, description="An analyst's user id; 0 for nobody; absent: unchanged")
    thank: bool = Field(False, description="Email the reporter a thank-you (once; directory people only)")


LIST_FIELDS = ("id", "status", "verdict", "received_at", "reporter_email", "reporter_id", "subject",
               "original_from", "assigned_to__email")


def filtered(reports_qs, status: str):
    if status == "open":
        return reports_qs.filter(status__in=[ReportStatus.NEW, ReportStatus.TRIAGING])
    if status in ReportStatus.values:
        return reports_qs.filter(status=status)
    return reports_qs


@reports_router.get("", response=ReportPage)
def list_reports(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    """Reported emails, newest first."""
    found = filtered(access.reports_visible_to(request.user), params.status)
    page = (found.select_related("assigned_to").defer("raw", "body_text", "headers", "urls", "attachments")
            .order_by("-received_at", "-id")[params.offset:params.offset + params.limit])
    return {"items": list(page), "count": found.count()}


@reports_router.get("/{int:report_id}", response=ReportOut)
def get_report(request: HttpRequest, report_id: int):
    return access.get_report_for_triage(request.user, report_id, message=False)


@reports_router.patch("/{int:report_id}", response={200: ReportOut, 422: Detail})
def triage_report(request: HttpRequest, report_id: int, payload: TriageIn):
    """Change status (new → triaging → resolved; resolved reopens to triaging), verdict, note
    or analyst. Resolving needs a verdict."""
    report = access.get_report_for_triage(request.user, report_id)
    fields = payload.dict(exclude_unset=True)
    analyst: User | None = None
    if "assigned_to" in fields:
        pk = fields["assigned_to"] or 0
        analyst = reports.analysts().filter(pk=pk).first() if 0 < pk <= MAX_ID else None
        if pk and analyst is None:
            return Status(422, {"detail": "assigned_to: Assign it to an active member of the security team."})
    try:
        return reports.do_triage(report, acting_user=request.user, status=fields.get("status"),
                                 verdict=fields.get("verdict"), note=fields.get("note"),
                                 assign="assigned_to" in fields, assigned_to=analyst,
                                 thank=fields.get("thank", False))
    except ValidationError as exc:
        return Status(422, {"detail": " ".join(f"{f}: {m}" for f, ms in exc.message_dict.items() for m in ms)})


# --- reporting mailboxes ---------------------------------------------------------------------


class MailboxIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(993, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "tls"
    allow_plaintext: bool = Field(False, description="Plaintext to a host that is not loopback")
    username: str = Field(min_length=1, max_length=200)
    password: str = Field("", max_length=500, description="Required at creation and whenever host, port, security, "
                                                          "allow_plaintext or username change; blank otherwise "
                                                          "keeps the stored one")
    folder: str = Field("INBOX", max_length=200)
    processed_folder: str = Field("", max_length=200, description="Blank: flag processed mail instead of moving it")
    enabled: bool = True
    trusted_authserv_id: str = Field("", max_length=253, description="The authserv-id of the organisation's own "
                                                                     "mail server in Authentication-Results; blank: "
                                                                     "no reporter is verified")


class MailboxOut(Schema):
    id: int
    name: str
    host: str
    port: int
    security: str
    allow_plaintext: bool
    username: str
    password: str = Field(description="Never shown: asterisks when one is stored")
    folder: str
    processed_folder: str
    enabled: bool
    trusted_authserv_id: str
    last_poll_at: datetime | None
    last_success_at: datetime | None
    last_error: str

    @staticmethod
    def resolve_password(obj: ReportingMailbox) -> str:
        return obj.masked_password


def _refused(exc: ValidationError) -> Status:
    return Status(422, {"detail": " ".join(f"{f}: {m}" if f != "__all__" else m
                                           for f, ms in exc.message_dict.items() for m in ms)})


@mailboxes_router.get("", response=list[MailboxOut])
def list_mailboxes(request: HttpRequest):
    return list(access.mailboxes_visible_to(request.user).order_by("name")[:1000])


@mailboxes_router.post("", response={201: MailboxOut, 422: Detail})
def create_mailbox(request: HttpRequest, payload: MailboxIn):
    access.mailboxes_visible_to(request.user)
    access.require_manager(request.user)
    try:
        return Status(201, reports.do_save_mailbox(None, acting_user=request.user, **payload.dict()))
    except ValidationError as exc:
        return _refused(exc)


@mailboxes_router.put("/{int:mailbox_id}", response={200: MailboxOut, 422: Detail})
def change_mailbox(request: HttpRequest, mailbox_id: int, payload: MailboxIn):
    found = access.get_mailbox_for_manage(request.user, mailbox_id)
    try:
        return reports.do_save_mailbox(found, acting_user=request.user, **payload.dict())
    except ValidationError as exc:
        return _refused(exc)


@mailboxes_router.post("/{int:mailbox_id}/test", response={200: Detail, 422: Detail})
def test_mailbox(request: HttpRequest, mailbox_id: int):
    """Log in and open the folder, changing nothing."""
    found = access.get_mailbox_for_manage(request.user, mailbox_id)
    try:
        return {"detail": mailbox.test_connection(found)}
    except ValueError as exc:
        return Status(422, {"detail": str(exc)})
