"""The security team's phishing pages under /phishing/: campaigns (list, new, a campaign's
status, test send, cancel and results with the flagged hits, by department and by manager, and
its CSV), templates and landing pages (with previews served in a sandbox), sending profiles,
verified domains, the automated-hit rules, repeat clickers and a person's history.

Every object comes through access.py; every write through a do_* action in actions.py, whose
refusals are shown beside the form with nothing saved. Previews of templates and landing pages
are served from their own URL with ``Content-Security-Policy: sandbox`` and no script, so
nothing in a lure ever runs in Bastion's origin."""

import re
from collections.abc import Callable
from datetime import timedelta
from statistics import median

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.csp import CSP
from django.utils.html import escape
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from bastion.lib.http import AuthedRequest, is_htmx, parse_id
from bastion.lib.markdown import render_markdown
from bastion.lib.spreadsheet import streamed_csv

from . import access, actions, results
from .forms import (
    CampaignForm,
    DomainForm,
    LandingPageForm,
    SendingProfileForm,
    TemplateForm,
    TestSendForm,
    TrackingRulesForm,
)
from .models import (
    PLACEHOLDERS,
    AutomatedRule,
    Campaign,
    CampaignStatus,
    LandingPage,
    PhishingTemplate,
    RecipientStatus,
    SendingProfile,
    TrackingEvent,
    TrackingRules,
    VerifiedDomain,
)

PER_PAGE = 50
GROUPS_PER_PAGE = 25
FLAGGED_PER_PAGE = 25
RECIPIENTS_PER_PAGE = 25
SAMPLE = {"first_name": "Alex", "last_name": "Example", "manager": "Sam Sample", "department": "Finance",
          "link": "#preview-link", "report_link": "#preview-report", "pixel": ""}
# What a preview may do: show its HTML and inline images; no script, no request, no form, no
# top-level navigation, framed only by Bastion's own pages.
PREVIEW_CSP = "sandbox; default-src 'none'; img-src data:; frame-ancestors 'self'"
# The landing page's preview also loads Bastion's stylesheet, as a recipient sees it.
LANDING_PREVIEW_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'self'; frame-ancestors 'self'"


def _id(pk: int) -> int:
    """An id from the URL that a database column can hold; 404 for a larger one."""
    if parse_id(pk) is None:
        raise Http404
    return pk


def _one(queryset, pk: int):
    found = queryset.filter(pk=pk).first() if parse_id(pk) is not None else None
    if found is None:
        raise Http404
    return found


MAX_PAGE = 1_000_000  # a page number past it is read as the last page; its offset fits any database


def _page_number(request: AuthedRequest, name: str) -> int:
    """The page asked for, from 1 to MAX_PAGE: its offset is computed before the count is known."""
    return min(parse_id(request.GET.get(name)) or 1, MAX_PAGE)


def _page(items, request: AuthedRequest, per_page: int, name: str = "page"):
    return Paginator(items, per_page).get_page(request.GET.get(name))


def _attach(form, error: ValueError | ValidationError, fields: dict[str, Callable[[str], bool]] | None = None) -> None:
    """An action's refusal beside the field it concerns (by the model's field names, or for a
    ValueError by its message), else at the top of the form."""
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        for name, problems in error.message_dict.items():
            form.add_error(name if name in form.fields else None, problems)
        return
    text = error.messages[0] if isinstance(error, ValidationError) else str(error)
    for name, matches in (fields or {}).items():
        if matches(text):
            form.add_error(name, text)
            return
    form.add_error(None, text)


def _with_framing(response: HttpResponse) -> HttpResponse:
    """Allow this page (only) to frame a preview from our own origin; the rest of the policy
    is the site's."""
    response._csp_config = {**settings.SECURE_CSP, "frame-src": [CSP.SELF]}  # type: ignore[attr-defined]
    return response


# --- campaigns -------------------------------------------------------------------------------

def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


@login_required
def campaign_list(request: AuthedRequest) -> HttpResponse:
    campaigns = access.campaigns_visible_to(request.user).order_by("-starts_at", "-id")
    page = _page(campaigns, request, PER_PAGE)
    summary = results.campaigns_summary([c.pk for c in page])
    rows = []
    for campaign in page:
        figures = summary[campaign.pk]
        rows.append({"campaign": campaign, "results": figures,
                     "click_pct": _rate(figures["clicked"], figures["sent"]),
                     "report_pct": _rate(figures["reported"], figures["sent"])})
    return render(request, "phishing/manage/campaign_list.html", {
        "page_obj": page, "rows": rows, "can_manage": access.can_manage_phishing(request.user),
        "can_setup": access.can_view_phishing_setup(request.user)})


_CAMPAIGN_FIELDS: dict[str, Callable[[str], bool]] = {
    "window_ends_at": lambda m: m.startswith("The send window"),
    "starts_at": lambda m: "start time" in m,
    "audience": lambda m: "outside the verified domains" in m or "No verified domain" in m or "audience" in m,
    "templates": lambda m: m.startswith("Template") or "template" in m,
    "remedial_programme": lambda m: "remedial programme" in m,
}


@login_required
def campaign_new(request: AuthedRequest) -> HttpResponse:
    access.require_manager(request.user)
    form = CampaignForm(request.POST or None,
                        initial={"starts_at": timezone.localtime().replace(second=0, microsecond=0)})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = actions.do_create_campaign(
                name=data["name"].strip(), templates=list(data["templates"]), landing_page=data["landing_page"],
                sending_profile=data["sending_profile"], audience=data["audience"], starts_at=data["starts_at"],
                window_minutes=form.window_minutes(), remedial_programme=data["remedial_programme"],
                remedial_rule=data["remedial_rule"], acting_user=request.user)
        except ValueError as error:
            _attach(form, error, _CAMPAIGN_FIELDS)
        else:
            messages.success(request, f"Campaign “{campaign.name}” is scheduled for "
                                      f"{campaign.recipients.count()} recipient(s).")
            return redirect(f"/phishing/campaigns/{campaign.pk}/")
    missing = [label for label, model in (("a template", PhishingTemplate), ("a landing page", LandingPage),
                                          ("a sending profile", SendingProfile)) if not model.objects.exists()]
    if not VerifiedDomain.objects.verified().exists():
        missing.append("a verified domain")
    return render(request, "phishing/manage/campaign_form.html", {"form": form, "missing": missing},
                  status=422 if form.errors else 200)


def _campaign_status(campaign: Campaign) -> tuple[str, str]:
    """The status as shown, with a badge class: sending with an error is paused."""
    if campaign.status == CampaignStatus.SENDING and campaign.last_error:
        return "Paused", "bad"
    return campaign.get_status_display(), {"finished": "ok", "cancelled": "warn"}.get(campaign.status, "")


FUNNEL = ("sent", "delivered", "opened", "clicked", "submitted", "reported")


def _funnel(figures: dict) -> list[dict]:
    """Bars for the server-rendered SVG: filtered recipients per stage, scaled to those sent."""
    top = max(figures["sent"], 1)
    bars = []
    for i, stage in enumerate(FUNNEL):
        value = figures[stage] if stage in ("sent", "delivered") else figures["filtered"][stage]
        width = round(360 * value / top)
        bars.append({"label": stage.capitalize(), "value": value, "width": width, "y": 28 + i * 26,
                     "y_text": 41 + i * 26, "x_value": 124 + width + 6})
    return bars


def _rows(figures: dict) -> list[dict]:
    sent = figures["sent"]
    rows = [{"label": "Sent", "raw": sent, "filtered": sent, "rate": None},
            {"label": "Delivered", "raw": figures["delivered"], "filtered": figures["delivered"], "rate": None}]
    for stage in ("opened", "clicked", "submitted", "reported"):
        rows.append({"label": stage.capitalize(), "raw": figures["raw"][stage], "filtered": figures["filtered"][stage],
                     "raw_rate": _rate(figures["raw"][stage], sent), "rate": _rate(figures["filtered"][stage], sent)})
    return rows


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes = int(seconds // 60)
    if minutes < 1:
        return f"{int(seconds)} s"
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


_REGIONS = ("recipients", "departments", "managers", "flagged")
# Regions each reading the whole campaign again (at 100,000 recipients, tens of milliseconds
# each): loaded after the page by htmx, or in the page when their page number is asked for (the
# plain link, without JavaScript). Their page parameter for each.
_DEFERRED = {"departments": "dpage", "managers": "mpage", "flagged": "flagged"}


@login_required
def campaign_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    campaign = access.get_campaign_for_view(request.user, _id(pk))
    region = request.GET.get("region")
    if is_htmx(request) and region in _REGIONS:
        context = {"campaign": campaign, **_region_context(request, campaign, region)}
        return render(request, f"phishing/manage/campaign_detail.html#{region}", context)
    figures = results.campaign_results(campaign)
    context = {"campaign": campaign, "figures": figures,
               "can_manage": access.can_manage_phishing(request.user),
               "test_form": TestSendForm(), **_campaign_context(request, campaign, figures)}
    for name, param in _DEFERRED.items():
        if param in request.GET:
            context.update(_region_context(request, campaign, name))
    return render(request, "phishing/manage/campaign_detail.html", context)


def _region_context(request: AuthedRequest, campaign: Campaign, region: str) -> dict:
    if region == "recipients":
        return {"recipients": _recipients_page(request, campaign)}
    if region == "flagged":
        return {"flagged_page": _flagged_page(request, campaign)}
    by = "department" if region == "departments" else "manager"
    return {region: _groups_page(request, campaign, by, _DEFERRED[region])}


def _flagged_page(request: AuthedRequest, campaign: Campaign):
    flagged = (TrackingEvent.objects.filter(recipient__campaign=campaign, automated=True)
               .select_related("recipient").order_by("-at", "-id"))
    rules = dict(AutomatedRule.choices)
    flagged_page = _page(flagged, request, FLAGGED_PER_PAGE, "flagged")
    for event in flagged_page:
        event.rule_label = rules.get(event.rule, event.rule or "—")  # type: ignore[attr-defined]
    return flagged_page


def _groups_page(request: AuthedRequest, campaign: Campaign, by: str, name: str) -> dict:
    number = _page_number(request, name)
    items, total = results.campaign_groups(campaign, by, GROUPS_PER_PAGE, (number - 1) * GROUPS_PER_PAGE)
    pages = max(1, -(-total // GROUPS_PER_PAGE))
    if number > pages:
        number = pages
        items, total = results.campaign_groups(campaign, by, GROUPS_PER_PAGE, (number - 1) * GROUPS_PER_PAGE)
    for item in items:
        item["click_pct"] = _rate(item["filtered"]["clicked"], item["sent"])
        item["report_pct"] = _rate(item["filtered"]["reported"], item["sent"])
    region = "departments" if by == "department" else "managers"
    return {"items": items, "total": total, **_pager(request, name, region, number, pages)}


def _pager(request: AuthedRequest, name: str, region: str, number: int, pages: int) -> dict:
    """Previous and next links of a region's pages: a plain link (the whole page, for no
    JavaScript) and the htmx one (the region only)."""
    def link(to: int, htmx: bool) -> str:
        query = request.GET.copy()
        query[name] = str(to)
        query.pop("region", None)
        if htmx:
            query["region"] = region
        return "?" + query.urlencode() + ("" if htmx else f"#{region}")

    return {"number": number, "pages": pages, "region": region,
            "previous": (link(number - 1, False), link(number - 1, True)) if number > 1 else None,
            "next": (link(number + 1, False), link(number + 1, True)) if number < pages else None}


def _recipients_page(request: AuthedRequest, campaign: Campaign) -> dict:
    number = _page_number(request, "rpage")
    items, total = results.recipient_rows(campaign, RECIPIENTS_PER_PAGE, (number - 1) * RECIPIENTS_PER_PAGE)
    pages = max(1, -(-total // RECIPIENTS_PER_PAGE))
    if number > pages:
        number = pages
        items, total = results.recipient_rows(campaign, RECIPIENTS_PER_PAGE, (number - 1) * RECIPIENTS_PER_PAGE)
    statuses = dict(RecipientStatus.choices)
    for item in items:
        item["status_label"] = statuses.get(item["status"], item["status"])
    return {"items": items, "total": total, **_pager(request, "rpage", "recipients", number, pages)}


def _campaign_context(request: AuthedRequest, campaign: Campaign, figures: dict) -> dict:
    status, badge = _campaign_status(campaign)
    return {
        "status_label": status, "status_badge": badge,
        "window_end": campaign.starts_at + timedelta(minutes=campaign.window_minutes),
        "chart_height": 36 + len(FUNNEL) * 26,
        "progress": figures["sent"], "total": figures["recipients"],
        "progress_pct": _rate(figures["sent"], figures["recipients"]) or 0,
        "funnel": _funnel(figures), "rows": _rows(figures),
        "median_to_report": _duration(figures["median_seconds_to_report"]),
        "click_pct": _rate(figures["filtered"]["clicked"], figures["sent"]),
        "report_pct": _rate(figures["filtered"]["reported"], figures["sent"]),
        "raw_click_pct": _rate(figures["raw"]["clicked"], figures["sent"]),
        "recipients": _recipients_page(request, campaign),
        "templates": list(campaign.templates.order_by("name")),
        "can_cancel": campaign.can_move_to(CampaignStatus.CANCELLED),
    }


@login_required
@require_POST
def campaign_test_send(request: AuthedRequest, pk: int) -> HttpResponse:
    campaign = access.get_campaign_for_manage(request.user, _id(pk))
    form = TestSendForm(request.POST)
    if form.is_valid():
        try:
            names = actions.do_test_send(campaign, form.cleaned_data["to"], request.user)
        except ValueError as error:
            form.add_error("to", str(error))
        else:
            messages.success(request, f"Sent {len(names)} test message(s) to {form.cleaned_data['to']}.")
            return redirect(f"/phishing/campaigns/{campaign.pk}/")
    figures = results.campaign_results(campaign)
    return render(request, "phishing/manage/campaign_detail.html", {
        "campaign": campaign, "figures": figures, "can_manage": True, "test_form": form,
        **_campaign_context(request, campaign, figures)}, status=422)


@login_required
def campaign_cancel(request: AuthedRequest, pk: int) -> HttpResponse:
    campaign = access.get_campaign_for_manage(request.user, _id(pk))
    problem = ""
    if request.method == "POST":
        try:
            actions.do_cancel_campaign(campaign, request.user)
        except ValueError as error:
            problem = str(error)
        else:
            messages.success(request, f"Campaign “{campaign.name}” is cancelled: nothing more will be sent.")
            return redirect(f"/phishing/campaigns/{campaign.pk}/")
    pending = campaign.recipients.filter(status="pending").count()
    return render(request, "phishing/manage/campaign_cancel.html", {
        "campaign": campaign, "pending": pending, "problem": problem,
        "can_cancel": campaign.can_move_to(CampaignStatus.CANCELLED)}, status=409 if problem else 200)


@login_required
def campaign_csv(request: AuthedRequest, pk: int) -> StreamingHttpResponse:
    """The same per-recipient CSV as the API's, for a signed-in browser."""
    campaign = access.get_campaign_for_view(request.user, _id(pk))
    return streamed_csv(results.CSV_HEADER, results.csv_rows(campaign), f"campaign-{campaign.pk}-results.csv")


# --- templates -------------------------------------------------------------------------------

@login_required
def template_list(request: AuthedRequest) -> HttpResponse:
    templates = access.templates_visible_to(request.user).order_by("name", "id")
    return render(request, "phishing/manage/template_list.html", {
        "page_obj": _page(templates, request, PER_PAGE), "can_manage": access.can_manage_phishing(request.user)})


def _template_values(form: TemplateForm) -> dict:
    data = form.cleaned_data
    return {"name": data["name"].strip(), "from_name": data["from_name"].strip(), "subject": data["subject"],
            "body_text": data["body_text"], "body_html": data["body_html"], "difficulty": data["difficulty"],
            "cues": list(data["cues"]), "red_flags": data["red_flags"]}


@login_required
def template_edit(request: AuthedRequest, pk: int | None = None) -> HttpResponse:
    access.require_manager(request.user)
    template = _one(access.templates_visible_to(request.user), pk) if pk is not None else None
    initial = {}
    if template is not None:
        initial = {f: getattr(template, f) for f in ("name", "from_name", "subject", "body_text", "body_html",
                                                      "difficulty", "cues", "red_flags")}
    form = TemplateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if template is None:
                template = actions.do_create_template(acting_user=request.user, **_template_values(form))
                messages.success(request, f"Template “{template.name}” is saved.")
            else:
                actions.do_update_template(template, acting_user=request.user, **_template_values(form))
                messages.success(request, f"Template “{template.name}” is updated.")
        except ValidationError as error:
            _attach(form, error)
        else:
            return redirect(f"/phishing/templates/{template.pk}/")
    return render(request, "phishing/manage/template_form.html", {"form": form, "template": template},
                  status=422 if form.errors else 200)


@login_required
def template_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    template = _one(access.templates_visible_to(request.user), pk)
    assert set(SAMPLE) == set(PLACEHOLDERS)
    subject, text, _ = template.render(SAMPLE)
    return _with_framing(render(request, "phishing/manage/template_detail.html", {
        "template": template, "subject": subject, "text": text, "sample": SAMPLE,
        "can_manage": access.can_manage_phishing(request.user)}))


def _sandboxed(body: str, policy: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = policy
    response["Cache-Control"] = "no-store"
    return response


@login_required
@xframe_options_sameorigin
def template_preview(request: AuthedRequest, pk: int) -> HttpResponse:
    """The HTML body as the recipient would see it (sample values), served in a sandbox: the
    browser runs no script, loads nothing and gives it an origin of its own."""
    template = _one(access.templates_visible_to(request.user), pk)
    _, text, body_html = template.render(SAMPLE)
    if not body_html:
        body_html = f"<pre>{escape(text)}</pre>"
    return _sandboxed(body_html, PREVIEW_CSP)


# --- landing pages ---------------------------------------------------------------------------

@login_required
def landing_list(request: AuthedRequest) -> HttpResponse:
    access.require_setup_reader(request.user)
    pages = LandingPage.objects.order_by("title", "id")
    return render(request, "phishing/manage/landing_list.html", {
        "page_obj": _page(pages, request, PER_PAGE), "can_manage": access.can_manage_phishing(request.user)})


@login_required
def landing_edit(request: AuthedRequest, pk: int | None = None) -> HttpResponse:
    access.require_manager(request.user)
    page = _one(LandingPage.objects.all(), pk) if pk is not None else None
    initial = {"title": page.title, "body_markdown": page.body_markdown, "shows_form": page.shows_form} if page else {}
    form = LandingPageForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if page is None:
                page = actions.do_create_landing_page(acting_user=request.user, **data)
                messages.success(request, f"Landing page “{page.title}” is saved.")
            else:
                actions.do_update_landing_page(page, acting_user=request.user, **data)
                messages.success(request, f"Landing page “{page.title}” is updated.")
        except ValidationError as error:
            _attach(form, error)
        else:
            return redirect(f"/phishing/landing-pages/{page.pk}/")
    return render(request, "phishing/manage/landing_form.html", {"form": form, "page": page},
                  status=422 if form.errors else 200)


@login_required
def landing_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    access.require_setup_reader(request.user)
    page = _one(LandingPage.objects.all(), pk)
    return _with_framing(render(request, "phishing/manage/landing_detail.html", {
        "page": page, "can_manage": access.can_manage_phishing(request.user)}))


PREVIEW_FLAGS = [{"flag": "(The template's red flags)", "explanation": "each campaign's template lists its own here"}]


@login_required
@xframe_options_sameorigin
def landing_preview(request: AuthedRequest, pk: int) -> HttpResponse:
    """The landing page as a recipient sees it (?step=form: the fake form first), in a sandbox;
    its form posts nowhere (the sandbox forbids forms) and nothing is recorded."""
    access.require_setup_reader(request.user)
    page = _one(LandingPage.objects.all(), pk)
    show_form = page.shows_form and request.GET.get("step") == "form"
    body: str = render_to_string("phishing/landing.html", {
        "page": page, "body": render_markdown(page.body_markdown), "recipient": {"token": "preview"},
        "show_form": show_form, "submitted": page.shows_form and not show_form, "red_flags": PREVIEW_FLAGS,
        "remedial": False})
    # The site's own script has nothing to do in a preview (and the sandbox would block it).
    body = re.sub(r"<script\b[^>]*></script>", "", body)
    return _sandboxed(body, LANDING_PREVIEW_CSP)


# --- sending profiles, domains, rules ---------------------------------------------------------

@login_required
def profile_list(request: AuthedRequest) -> HttpResponse:
    access.require_setup_reader(request.user)
    profiles = SendingProfile.objects.order_by("name", "id")
    return render(request, "phishing/manage/profile_list.html", {
        "page_obj": _page(profiles, request, PER_PAGE), "can_manage": access.can_manage_phishing(request.user),
        "test_form": TestSendForm()})


def _url_without_password(profile: SendingProfile) -> str:
    from urllib.parse import urlparse

    try:
        url = urlparse(profile.smtp_url)
        password = url.password
    except ValueError:
        return ""
    if not password:
        return profile.smtp_url
    netloc = url.netloc.replace(f":{password}@", "@", 1)
    return url._replace(netloc=netloc).geturl()


@login_required
def profile_edit(request: AuthedRequest, pk: int | None = None) -> HttpResponse:
    access.require_manager(request.user)
    profile = _one(SendingProfile.objects.all(), pk) if pk is not None else None
    initial = {}
    if profile is not None:
        initial = {"name": profile.name, "smtp_url": _url_without_password(profile),
                   "from_address": profile.from_address, "rate_per_second": profile.rate_per_second}
    form = SendingProfileForm(request.POST or None, initial=initial, editing=profile is not None)
    if request.method == "POST" and form.is_valid():
        try:
            if profile is None:
                profile = actions.do_create_sending_profile(acting_user=request.user, **form.cleaned_data)
                messages.success(request, f"Sending profile “{profile.name}” is saved.")
            else:
                actions.do_update_sending_profile(profile, acting_user=request.user, **form.cleaned_data)
                messages.success(request, f"Sending profile “{profile.name}” is updated.")
        except ValidationError as error:
            _attach(form, error)
        else:
            return redirect("/phishing/profiles/")
    if form.is_bound:
        # Never echo a typed password back into the page.
        data = request.POST.copy()
        data["smtp_url"] = _url_without_password(SendingProfile(smtp_url=data.get("smtp_url", "")))
        form.data = data
    return render(request, "phishing/manage/profile_form.html", {"form": form, "profile": profile},
                  status=422 if form.errors else 200)


@login_required
@require_POST
def profile_test(request: AuthedRequest, pk: int) -> HttpResponse:
    access.require_manager(request.user)
    profile = _one(SendingProfile.objects.all(), pk)
    form = TestSendForm(request.POST)
    if form.is_valid():
        try:
            actions.do_test_profile(profile, form.cleaned_data["to"], request.user)
        except ValueError as error:
            form.add_error("to", str(error))
        else:
            messages.success(request, f"A test message went to {form.cleaned_data['to']} through “{profile.name}”.")
            return redirect("/phishing/profiles/")
    return render(request, "phishing/manage/profile_test.html", {"profile": profile, "form": form}, status=422)


@login_required
def domain_list(request: AuthedRequest) -> HttpResponse:
    access.require_setup_reader(request.user)
    form = DomainForm(request.POST or None)
    if request.method == "POST":
        access.require_manager(request.user)
        if form.is_valid():
            try:
                found = actions.do_declare_domain(form.cleaned_data["domain"], request.user)
            except ValueError as error:
                form.add_error("domain", str(error))
            else:
                messages.success(request, f"{found.domain} is a verified domain: simulations may go to it.")
                return redirect("/phishing/domains/")
    domains = VerifiedDomain.objects.order_by("domain").select_related("declared_by")
    return render(request, "phishing/manage/domain_list.html", {
        "page_obj": _page(domains, request, PER_PAGE), "form": form,
        "can_manage": access.can_manage_phishing(request.user)}, status=422 if form.errors else 200)


@login_required
@require_POST
def domain_remove(request: AuthedRequest, pk: int) -> HttpResponse:
    access.require_manager(request.user)
    domain = _one(VerifiedDomain.objects.all(), pk)
    actions.do_remove_domain(domain, request.user)
    messages.success(request, f"{domain.domain} is no longer a verified domain: nothing more is sent to it.")
    return redirect("/phishing/domains/")


@login_required
def rules_edit(request: AuthedRequest) -> HttpResponse:
    access.require_setup_reader(request.user)
    rules = TrackingRules.current()
    initial = {"too_soon_seconds": rules.too_soon_seconds, "scanner_agents": "\n".join(rules.scanner_agents),
               "scanner_networks": "\n".join(rules.scanner_networks), "no_human_signal": rules.no_human_signal,
               "no_human_signal_seconds": rules.no_human_signal_seconds}
    form = TrackingRulesForm(request.POST or None, initial=initial)
    if request.method == "POST":
        access.require_manager(request.user)
        if form.is_valid():
            try:
                actions.do_update_tracking_rules(acting_user=request.user, **form.cleaned_data)
            except ValueError as error:
                _attach(form, error, {"too_soon_seconds": lambda m: "too-soon" in m,
                                      "scanner_networks": lambda m: "network" in m,
                                      "scanner_agents": lambda m: "fragment" in m,
                                      "no_human_signal_seconds": lambda m: "human signal" in m})
            else:
                messages.success(request, "The automated-hit rules are saved; they apply to hits from now on.")
                return redirect("/phishing/rules/")
    return render(request, "phishing/manage/rules.html", {
        "form": form, "rules": rules, "can_manage": access.can_manage_phishing(request.user),
        "rule_kinds": AutomatedRule.choices}, status=422 if form.errors else 200)


# --- across campaigns ------------------------------------------------------------------------

@login_required
def repeat_clickers(request: AuthedRequest) -> HttpResponse:
    access.campaigns_visible_to(request.user)
    number = _page_number(request, "page")
    items, total = results.repeat_clickers(PER_PAGE, (number - 1) * PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    if number > pages:
        number = pages
        items, total = results.repeat_clickers(PER_PAGE, (number - 1) * PER_PAGE)
    return render(request, "phishing/manage/repeat_clickers.html", {
        "items": items, "total": total, "number": number, "pages": pages,
        "previous": number - 1 if number > 1 else None, "next": number + 1 if number < pages else None})


@login_required
def person_history(request: AuthedRequest, pk: int) -> HttpResponse:
    if parse_id(pk) is None:
        raise Http404
    person = access.get_person_for_history(request.user, pk)
    history = results.person_history(person.pk)
    delays = [(h["reported_at"] - h["sent_at"]).total_seconds() for h in history if h["reported_at"] and h["sent_at"]]
    return render(request, "phishing/manage/person_history.html", {
        "person": person, "history": history, "clicked": sum(1 for h in history if h["clicked_at"]),
        "reported": sum(1 for h in history if h["reported_at"]),
        "median_to_report": _duration(median(delays)) if delays else "—",
        "can_open_campaigns": access.can_view_campaigns(request.user)})
