"""Campaigns over JSON (list, create, get, cancel, results) and the mail add-in's report
endpoint. The same access helpers and actions as the pages."""

from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from bastion.awareness.models import Programme
from bastion.lib.http import MAX_ID
from bastion.lib.spreadsheet import streamed_csv
from bastion.people.models import Group

from . import access, actions, results
from .models import (
    PLACEHOLDERS,
    Campaign,
    EventKind,
    LandingPage,
    PhishingTemplate,
    SendingProfile,
    TrackingRules,
    VerifiedDomain,
    Webhook,
)
from .tracking import record_hit

campaigns_router = Router()
phishing_router = Router()


class CampaignOut(Schema):
    id: int
    name: str
    status: str
    starts_at: datetime
    window_minutes: int
    audience: int | None = Field(description="A group's id; null for everyone")
    landing_page: int
    sending_profile: int
    remedial_programme: int | None
    remedial_rule: str
    last_error: str
    created_at: datetime
    finished_at: datetime | None

    @staticmethod
    def resolve_audience(obj: Campaign) -> int | None:
        return obj.audience_id

    @staticmethod
    def resolve_landing_page(obj: Campaign) -> int:
        return obj.landing_page_id

    @staticmethod
    def resolve_sending_profile(obj: Campaign) -> int:
        return obj.sending_profile_id

    @staticmethod
    def resolve_remedial_programme(obj: Campaign) -> int | None:
        return obj.remedial_programme_id


class CampaignPage(Schema):
    items: list[CampaignOut]
    count: int


class PageParams(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10_000_000)


class CampaignCreate(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    templates: list[int] = Field(min_length=1, max_length=20)
    landing_page: int
    sending_profile: int
    audience: int | None = None
    starts_at: datetime
    window_minutes: int = Field(0, ge=0, le=60 * 24 * 30)
    remedial_programme: int | None = None
    remedial_rule: Literal["click", "submit"] = "click"


class Detail(Schema):
    detail: str


class RulesIn(Schema):
    model_config = ConfigDict(extra="forbid")

    too_soon_seconds: int = Field(ge=0, le=3600, description="A hit this soon after delivery is automated")
    scanner_agents: list[str] = Field(max_length=500, description="Case-insensitive user-agent fragments")
    scanner_networks: list[str] = Field(max_length=500, description="CIDR blocks, e.g. 192.0.2.0/24")
    no_human_signal: bool | None = Field(None, description="Flag clicks no person followed up on the landing "
                                                           "page (omitted: unchanged)")
    no_human_signal_seconds: int | None = Field(None, ge=10, le=86400,
                                                description="How long a click waits for its human signal")


class RulesOut(Schema):
    too_soon_seconds: int
    scanner_agents: list[str]
    scanner_networks: list[str]
    no_human_signal: bool
    no_human_signal_seconds: int
    no_human_signal_since: datetime | None


class Report(Schema):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=64)


@campaigns_router.get("", response=CampaignPage)
def list_campaigns(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    campaigns = access.campaigns_visible_to(request.user).order_by("-starts_at", "-id")
    return {"items": list(campaigns[page.offset:page.offset + page.limit]), "count": campaigns.count()}


def _one(model, pk: int | None, label: str):
    if pk is None:
        return None
    found = model.objects.filter(pk=pk).first()
    if found is None:
        raise ValueError(f"No {label} has id {pk}.")
    return found


@campaigns_router.post("", response={201: CampaignOut, 422: Detail})
def create_campaign(request: HttpRequest, payload: CampaignCreate):
    access.require_manager(request.user)
    try:
        templates = list(PhishingTemplate.objects.filter(pk__in=payload.templates))
        if len(templates) != len(set(payload.templates)):
            raise ValueError("One or more templates do not exist.")
        campaign = actions.do_create_campaign(
            name=payload.name.strip(), templates=templates,
            landing_page=_one(LandingPage, payload.landing_page, "landing page"),
            sending_profile=_one(SendingProfile, payload.sending_profile, "sending profile"),
            audience=_one(Group, payload.audience, "group"), starts_at=payload.starts_at,
            window_minutes=payload.window_minutes,
            remedial_programme=_one(Programme, payload.remedial_programme, "programme"),
            remedial_rule=payload.remedial_rule, acting_user=request.user)
    except ValueError as exc:
        return Status(422, {"detail": str(exc)})
    return Status(201, campaign)


@campaigns_router.get("/{int:campaign_id}", response=CampaignOut)
def get_campaign(request: HttpRequest, campaign_id: int):
    return access.get_campaign_for_view(request.user, campaign_id)


@campaigns_router.post("/{int:campaign_id}/cancel", response={200: CampaignOut, 409: Detail})
def cancel_campaign(request: HttpRequest, campaign_id: int):
    campaign = access.get_campaign_for_manage(request.user, campaign_id)
    try:
        return actions.do_cancel_campaign(campaign, request.user)
    except ValueError as exc:
        return Status(409, {"detail": str(exc)})


class ResultsParams(Schema):
    by: Literal["department", "manager"] | None = Field(
        None, description="Add figures per department or manager, each recipient under the department and manager "
                          "they had when the campaign was created")
    limit: int = Field(100, ge=1, le=1000, description="Groups per page")
    offset: int = Field(0, ge=0, le=10_000_000)


@campaigns_router.get("/{int:campaign_id}/results")
def get_results(request: HttpRequest, campaign_id: int, params: Query[ResultsParams]) -> dict:
    """Recipients per stage, raw and filtered, with rates; with `by`, a page of the same per
    department or manager (`groups`, `group_count`). A recipient counts under the department and
    manager they had when the campaign was created, even if they have moved since."""
    campaign = access.get_campaign_for_view(request.user, campaign_id)
    out = results.campaign_results(campaign)
    if params.by:
        groups, count = results.campaign_groups(campaign, params.by, params.limit, params.offset)
        out.update(by=params.by, groups=groups, group_count=count)
    return out




@campaigns_router.get("/{int:campaign_id}/results.csv")
def export_results(request: HttpRequest, campaign_id: int):
    """Each recipient's results as CSV; cells a spreadsheet would run as formulas are quoted."""
    campaign = access.get_campaign_for_view(request.user, campaign_id)
    return streamed_csv(results.CSV_HEADER, results.csv_rows(campaign), f"campaign-{campaign.pk}-results.csv")


class RepeatParams(Schema):
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=10_000_000)
    min_campaigns: int = Field(2, ge=2, le=1000)


@phishing_router.get("/repeat-clickers")
def get_repeat_clickers(request: HttpRequest, params: Query[RepeatParams]) -> dict:
    """People who clicked (hits no rule flagged) in at least `min_campaigns` campaigns."""
    access.campaigns_visible_to(request.user)
    items, count = results.repeat_clickers(params.limit, params.offset, params.min_campaigns)
    return {"items": items, "count": count}


@phishing_router.get("/people/{int:person_id}/history")
def get_person_history(request: HttpRequest, person_id: int) -> dict:
    """Every simulation sent to the person, newest first, with when they opened, clicked,
    submitted and reported (first hit no rule flagged) and any remedial training."""
    if person_id > MAX_ID:
        raise Http404
    person = access.get_person_for_history(request.user, person_id)
    return {"person": person.pk, "employee_id": person.employee_id, "name": f"{person.first_name} {person.last_name}",
            "simulations": results.person_history(person.pk)}


@phishing_router.get("/rules", response=RulesOut)
def get_rules(request: HttpRequest):
    """The stated rules that flag a hit as automated (see tracking.py)."""
    access.require_setup_reader(request.user)
    return TrackingRules.current()


@phishing_router.put("/rules", response={200: RulesOut, 422: Detail})
def put_rules(request: HttpRequest, payload: RulesIn):
    access.require_manager(request.user)
    try:
        return actions.do_update_tracking_rules(**payload.dict(), acting_user=request.user)
    except ValueError as exc:
        return Status(422, {"detail": str(exc)})


@phishing_router.post("/report", response={200: Detail, 404: Detail})
def report(request: HttpRequest, payload: Report):
    """A mail add-in reports the simulation whose token it found in the message."""
    recipient = access.get_recipient_for_report(request.user, payload.token)
    if recipient is None:  # pragma: no cover - the helper raises
        raise Http404
    record_hit(request, recipient, EventKind.REPORTED, via="add-in")
    return {"detail": "Reported. Thank you: that message was a phishing simulation."}


# --- setup: domains, sending profiles, templates, landing pages ------------------------------


def _refused(exc: ValidationError) -> Status:
    messages = [f"{field}: {m}" if field != "__all__" else m
                for field, ms in exc.message_dict.items() for m in ms]
    return Status(422, {"detail": " ".join(messages)})


class DomainIn(Schema):
    model_config = ConfigDict(extra="forbid")

    domain: str = Field(min_length=1, max_length=253)


class DomainOut(Schema):
    id: int
    domain: str
    verified_at: datetime | None


@phishing_router.get("/domains", response=list[DomainOut])
def list_domains(request: HttpRequest):
    access.require_setup_reader(request.user)
    return list(VerifiedDomain.objects.order_by("domain")[:1000])


@phishing_router.post("/domains", response={201: DomainOut, 422: Detail})
def declare_domain(request: HttpRequest, payload: DomainIn):
    """Declare one of the organisation's own mail domains: simulations go to these alone."""
    access.require_manager(request.user)
    try:
        return Status(201, actions.do_declare_domain(payload.domain, request.user))
    except ValueError as exc:
        return Status(422, {"detail": str(exc)})


class ProfileIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    smtp_url: str = Field(min_length=1, max_length=500, description="smtp://user:password@host:587?tls=1 or smtps://…")
    from_address: str = Field(max_length=254)
    rate_per_second: int = Field(50, ge=1, le=10_000)


class ProfileOut(Schema):
    id: int
    name: str
    smtp_url: str = Field(description="The password is never shown")
    from_address: str
    rate_per_second: int

    @staticmethod
    def resolve_smtp_url(obj: SendingProfile) -> str:
        return obj.masked_url


@phishing_router.get("/profiles", response=list[ProfileOut])
def list_profiles(request: HttpRequest):
    access.require_setup_reader(request.user)
    return list(SendingProfile.objects.order_by("name")[:1000])


@phishing_router.post("/profiles", response={201: ProfileOut, 422: Detail})
def create_profile(request: HttpRequest, payload: ProfileIn):
    access.require_manager(request.user)
    try:
        return Status(201, actions.do_create_sending_profile(**payload.dict(), acting_user=request.user))
    except ValidationError as exc:
        return _refused(exc)


class RedFlag(Schema):
    flag: str = Field(min_length=1, max_length=300)
    explanation: str = Field(min_length=1, max_length=2000)


class TemplateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    from_name: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=300)
    body_text: str = Field(min_length=1, max_length=100_000)
    body_html: str = Field("", max_length=200_000)
    difficulty: int = Field(3, description="1 (easy to spot) to 5")
    cues: list[str] = Field([], max_length=20)
    red_flags: list[RedFlag] = Field([], max_length=50)


class TemplateOut(Schema):
    id: int
    name: str
    from_name: str
    subject: str
    body_text: str
    body_html: str
    difficulty: int
    cues: list[str]
    red_flags: list[dict]


class Preview(Schema):
    subject: str
    text: str
    html: str


@phishing_router.get("/templates", response=list[TemplateOut])
def list_templates(request: HttpRequest):
    return list(access.templates_visible_to(request.user).order_by("name")[:1000])


@phishing_router.post("/templates", response={201: TemplateOut, 422: Detail})
def create_template(request: HttpRequest, payload: TemplateIn):
    access.require_manager(request.user)
    try:
        return Status(201, actions.do_create_template(**payload.dict(), acting_user=request.user))
    except ValidationError as exc:
        return _refused(exc)


SAMPLE = {"first_name": "Alex", "last_name": "Example", "manager": "Sam Sample", "department": "Finance"}


@phishing_router.get("/templates/{int:template_id}/preview", response=Preview)
def preview_template(request: HttpRequest, template_id: int):
    """The message as a recipient would see it, for a sample person, with inert links."""
    template = access.templates_visible_to(request.user).filter(pk=template_id).first()
    if template is None:
        raise Http404
    values = {**SAMPLE, "link": "#preview-link", "report_link": "#preview-report", "pixel": ""}
    assert set(values) == set(PLACEHOLDERS)
    subject, text, html = template.render(values)
    return {"subject": subject, "text": text, "html": html}


class LandingIn(Schema):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    body_markdown: str = Field(min_length=1, max_length=100_000)
    shows_form: bool = False


class LandingOut(Schema):
    id: int
    title: str
    body_markdown: str
    shows_form: bool


@phishing_router.get("/landing-pages", response=list[LandingOut])
def list_landing_pages(request: HttpRequest):
    access.require_setup_reader(request.user)
    return list(LandingPage.objects.order_by("title")[:1000])


@phishing_router.post("/landing-pages", response={201: LandingOut, 422: Detail})
def create_landing_page(request: HttpRequest, payload: LandingIn):
    access.require_manager(request.user)
    try:
        return Status(201, actions.do_create_landing_page(**payload.dict(), acting_user=request.user))
    except ValidationError as exc:
        return _refused(exc)


# --- test send and webhooks ------------------------------------------------------------------


class TestSendIn(Schema):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(min_length=3, max_length=254, description="An address in one of the verified domains")


class TestSendOut(Schema):
    detail: str
    templates: list[str]


@campaigns_router.post("/{int:campaign_id}/test-send", response={200: TestSendOut, 422: Detail})
def test_send(request: HttpRequest, campaign_id: int, payload: TestSendIn):
    """One message of each of the campaign's templates to one address, for a sample person;
    its links record nothing. Recorded in the audit trail."""
    campaign = access.get_campaign_for_manage(request.user, campaign_id)
    try:
        names = actions.do_test_send(campaign, payload.to, request.user)
    except ValueError as exc:
        return Status(422, {"detail": str(exc)})
    return {"detail": f"Sent {len(names)} test message(s) to {payload.to.strip()}.", "templates": names}


class WebhookIn(Schema):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=500, description="https://… (http:// allowed); nothing else")
    events: list[Literal["delivered", "opened", "clicked", "submitted", "reported"]] = Field(min_length=1,
                                                                                             max_length=5)


class WebhookOut(Schema):
    id: int
    url: str
    events: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Shown once: the key of the X-Bastion-Signature HMAC")


class DeliveryOut(Schema):
    id: int
    event: str
    status: str
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str
    created_at: datetime


@phishing_router.get("/webhooks", response=list[WebhookOut])
def list_webhooks(request: HttpRequest):
    access.require_setup_reader(request.user)
    return list(Webhook.objects.order_by("pk")[:1000])


@phishing_router.post("/webhooks", response={201: WebhookCreated, 422: Detail})
def create_webhook(request: HttpRequest, payload: WebhookIn):
    """Events are POSTed signed with the secret returned here, once (see webhooks.py)."""
    access.require_manager(request.user)
    try:
        return Status(201, actions.do_create_webhook(url=payload.url, events=list(payload.events),
                                                     acting_user=request.user))
    except ValidationError as exc:
        return _refused(exc)


def _webhook(pk: int) -> Webhook:
    found = Webhook.objects.filter(pk=pk).first() if pk <= MAX_ID else None
    if found is None:
        raise Http404
    return found


@phishing_router.post("/webhooks/{int:webhook_id}/deactivate", response=WebhookOut)
def deactivate_webhook(request: HttpRequest, webhook_id: int):
    access.require_manager(request.user)
    return actions.do_deactivate_webhook(_webhook(webhook_id), request.user)


@phishing_router.get("/webhooks/{int:webhook_id}/deliveries", response=list[DeliveryOut])
def list_deliveries(request: HttpRequest, webhook_id: int, page: Query[PageParams]):
    """The webhook's deliveries, newest first."""
    access.require_setup_reader(request.user)
    webhook = _webhook(webhook_id)
    return list(webhook.deliveries.order_by("-pk")[page.offset:page.offset + page.limit])
