"""The incident pages: the list and declaring, an incident's page (facts and clocks, severity,
status, team, checklist, notifications due with their countdowns, status updates, the review's
state, timeline and its verification, law-enforcement decision, the dossier's downloads), a
checklist step's outcome (with its deviation), a notification's outcome, sending a status update
(or a correction: a sent one is never edited), the post-incident review and its waiver, the
dossier as JSON and PDF (signed-in users; the API's need a token), and the deviations across
incidents. Every incident comes through
access.py; every write through a do_* action, whose refusals are shown beside the form with
nothing saved."""

from datetime import datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from bastion.accounts.models import Role
from bastion.lib.http import AuthedRequest, is_htmx, parse_id, render_region
from bastion.response.models import Plan
from bastion.systems.models import BusinessSystem

from . import access, actions, dossier, notices, review, team, timeline, updates
from .actions import DeviationReason
from .forms import (
    ActionItemFormSet,
    DeclareForm,
    DeviationForm,
    FactsForm,
    LawEnforcementForm,
    NotificationDoneForm,
    NotRequiredForm,
    ReviewForm,
    SendNotificationForm,
    StatusForm,
    StatusUpdateForm,
    TeamForm,
    TimelineEntryForm,
    WaiverForm,
    local_now,
)
from .models import (
    OPEN_NOTIFICATION_STATUSES,
    ChecklistStep,
    Deviation,
    Incident,
    NotificationDue,
    PostIncidentReview,
    Status,
    StatusUpdate,
    StepState,
)

PER_PAGE = 50
TIMELINE_PER_PAGE = 50
STATUS_FILTERS = [("open", "Open"), *Status.choices, ("all", "All")]


def _problems(error: ValidationError) -> list[str]:
    return list(error.messages)


def countdown(deadline: datetime | None, now: datetime) -> str:
    """"due in 3 h 12 min" or "overdue by 2 d 4 h": the time left to a deadline, in words."""
    if deadline is None:
        return "its clock has not started"
    seconds = int((deadline - now).total_seconds())
    minutes = abs(seconds) // 60
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    parts = ([f"{days} d"] if days else []) + ([f"{hours} h"] if hours else []) + ([f"{mins} min"] if not days else [])
    words = " ".join(parts) or "0 min"
    return f"due in {words}" if seconds >= 0 else f"overdue by {words}"


# --- list, declare, deviations -------------------------------------------------------------

@login_required
def incident_list(request: AuthedRequest) -> HttpResponse:
    incidents = access.incidents_visible_to(request.user)
    status = request.GET.get("status") or "open"
    if status == "open":
        incidents = incidents.open()
    elif status in Status.values:
        incidents = incidents.filter(status=status)
    else:
        status = "all"
    incidents = incidents.only("id", "title", "status", "type_key", "severity", "declared_at", "detected_at",
                               "restricted").order_by("-declared_at", "-id")
    page = Paginator(incidents, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "incidents/incident_list.html", {
        "page_obj": page, "status": status, "filters": STATUS_FILTERS,
        "can_declare": access.can_run_incidents(request.user)})


@login_required
def declare(request: AuthedRequest) -> HttpResponse:
    access.require_declarer(request.user)
    plan = Plan.current()
    version = plan.published() if plan is not None else None
    if version is None:
        return render(request, "incidents/declare.html", {"no_plan": True})
    user_person = request.user.person
    types = version.content.get("incident_types", [])
    finding = request.method == "POST" and "find_systems" in request.POST
    if finding:
        # "Find" without JavaScript: the form comes back as typed, with the systems found.
        form = DeclareForm(types=types, initial={
            name: request.POST.getlist(name) if name in ("data_involved", "affected_systems") else request.POST.get(name)
            for name in DeclareForm.base_fields})
    else:
        form = DeclareForm(request.POST if request.method == "POST" else None, types=types, initial={
            "detected_at": local_now(), "reporter": user_person.email if user_person else ""})
    problems: list[str] = []
    systems = _system_choices(request.POST if request.method == "POST" else request.GET)
    if request.method == "POST" and not finding and form.is_valid():
        data = form.cleaned_data
        reporter = data["reporter"]
        try:
            incident = actions.do_declare(
                acting_user=request.user, title=data["title"], summary=data["summary"],
                detected_at=data["detected_at"], reported_by=f"{reporter} ({reporter.email})",
                type_key=data["type_key"], affected_systems=list(data["affected_systems"]),
                data_involved=data["data_involved"], restricted=data["restricted"],
                incident_commander=data["incident_commander"],
                members=[request.user] if data["restricted"] else (), request=request)
        except ValidationError as error:
            problems = _problems(error)
        else:
            messages.success(request, f"{incident.reference} is declared under plan version {version.number}.")
            return redirect("incident", pk=incident.pk)
    return render(request, "incidents/declare.html", {"form": form, "problems": problems, "version": version,
                                                      **systems}, status=400 if form.errors or problems else 200)


SYSTEM_RESULTS = 20


def _system_choices(data) -> dict:
    """The systems chosen so far (ticked ``affected_systems``) and those whose name contains
    ``system_q``, the first SYSTEM_RESULTS by name: the declare form's search scales to a
    register of thousands (one page of names, never the whole list)."""
    ids = [i for i in (parse_id(v) for v in data.getlist("affected_systems")[:500]) if i is not None]
    query = str(data.get("system_q", "")).strip()[:100]
    chosen = list(BusinessSystem.objects.filter(pk__in=ids).order_by("name").only("pk", "name")) if ids else []
    found: list[BusinessSystem] = []
    if query:
        found = list(BusinessSystem.objects.filter(name__icontains=query).exclude(pk__in=ids)
                     .order_by("name", "pk").only("pk", "name")[:SYSTEM_RESULTS + 1])
    return {"chosen_systems": chosen, "found_systems": found[:SYSTEM_RESULTS], "system_q": query,
            "more_systems": len(found) > SYSTEM_RESULTS}


@login_required
def system_choices(request: AuthedRequest) -> HttpResponse:
    """htmx: the systems of the declare and facts forms, chosen and found (without htmx, the
    form's Find button posts the whole form instead)."""
    access.require_declarer(request.user)
    if not is_htmx(request):
        return redirect("incident-declare")
    return render(request, "incidents/_system_picker.html#system_choices", _system_choices(request.GET))


@login_required
def deviation_list(request: AuthedRequest) -> HttpResponse:
    deviations = (Deviation.objects.filter(incident__in=access.incidents_visible_to(request.user).values("pk"))
                  .select_related("incident", "step", "decided_by")
                  .only("kind", "explanation", "decided_at", "recorded_at", "incident__id", "incident__title",
                        "incident__type_key", "step__order", "step__title", "decided_by__first_name",
                        "decided_by__last_name")
                  .order_by("-recorded_at", "-id"))
    page = Paginator(deviations, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "incidents/deviation_list.html", {"page_obj": page})


# --- one incident --------------------------------------------------------------------------

def _incident(request: AuthedRequest, pk: int, *, edit: bool = False) -> Incident:
    get = access.get_incident_for_edit if edit else access.get_incident_for_view
    return get(request.user, pk)


def _notifications(incident: Incident) -> list[NotificationDue]:
    now = timezone.now()
    rows = list(incident.notifications.select_related("notified_by"))
    for row in rows:
        row.countdown = countdown(row.deadline, now) if row.is_open else ""  # type: ignore[attr-defined]
        row.overdue = bool(row.is_open and row.deadline and row.deadline < now)  # type: ignore[attr-defined]
    return rows


def _detail_context(request: AuthedRequest, incident: Incident, *, verify: bool = False, **forms) -> dict:
    can_run = access.can_run_incidents(request.user) and incident.status != Status.CLOSED
    oldest_first = request.GET.get("order") == "oldest"
    entries = incident.timeline.defer("evidence").order_by("seq" if oldest_first else "-seq")
    content = incident.content
    severities = {s["key"]: s.get("name") or s["key"] for s in content.get("severities", [])}
    return {
        "incident": incident, "can_run": can_run, "can_run_closed": access.can_run_incidents(request.user),
        "type": incident.incident_type(),
        "severity_label": severities.get(incident.severity, incident.severity),
        "suggested_label": severities.get(incident.suggested_severity, incident.suggested_severity),
        "systems": incident.affected_systems.order_by("name").only("name"),
        "steps": incident.steps.select_related("done_by").prefetch_related("deviations__decided_by"),
        "notifications": _notifications(incident), "open_statuses": OPEN_NOTIFICATION_STATUSES,
        "next_statuses": [s for s in Status if incident.can_move_to(s)],
        "timeline_page": Paginator(entries, TIMELINE_PER_PAGE).get_page(request.GET.get("page")),
        "oldest_first": oldest_first,
        # Recomputing the chain reads every entry: the page loads it after itself (timeline_verification).
        "verification": timeline.verify(incident) if verify else None,
        "law_enforcement_required": incident.law_enforcement_required(),
        "updates": incident.updates.select_related("sent_by", "corrects").order_by("-number"),
        "review": PostIncidentReview.objects.filter(incident=incident).select_related(
            "completed_by", "waived_by").first(),
        "facts_form": forms.get("facts_form") or (FactsForm(incident=incident) if can_run else None),
        "entry_form": forms.get("entry_form") or TimelineEntryForm(),
        "le_form": forms.get("le_form") or LawEnforcementForm(initial={
            "decided_at": local_now(), "decided_by": request.user.person.email if request.user.person else ""}),
        "problems": forms.get("problems", []), "problems_for": forms.get("problems_for", ""),
        **_team_context(request, incident, forms.get("team_form"), forms.get("team_saved", "")),
        **(forms.get("systems") or ({"chosen_systems": list(incident.affected_systems.order_by("name").only("name"))}
                                    if can_run else {})),
    }


def _team_context(request: AuthedRequest, incident: Incident, form: TeamForm | None, saved: str) -> dict:
    may_change = incident.status != Status.CLOSED and (
        access.can_run_incidents(request.user)
        or (request.user.person_id is not None and request.user.person_id == incident.incident_commander_id))
    return {"members": incident.members.order_by("email").only("email") if incident.restricted else [],
            "team_form": form or (TeamForm(incident=incident, members_rule=team.MEMBERS_RULE) if may_change else None),
            "members_rule": team.MEMBERS_RULE, "team_saved": saved}


def _load(pk: int) -> Incident:
    return Incident.objects.select_related(
        "plan_version", "declared_by", "incident_commander", "scribe", "liaison", "legal",
        "law_enforcement_decided_by").get(pk=pk)


def _render_detail(request: AuthedRequest, incident: Incident, status: int = 200, **forms) -> HttpResponse:
    return render(request, "incidents/incident_detail.html", _detail_context(request, _load(incident.pk), **forms),
                  status=status)


@login_required
def incident_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    incident = _load(_incident(request, pk).pk)
    return render(request, "incidents/incident_detail.html", _detail_context(request, incident))


@login_required
def notifications_region(request: AuthedRequest, pk: int) -> HttpResponse:
    """The notifications due, for htmx to refresh the countdowns (the whole page without it)."""
    incident = _load(_incident(request, pk).pk)
    return render_region(request, "incidents/incident_detail.html", "notifications",
                         _detail_context(request, incident))


@login_required
def timeline_verification(request: AuthedRequest, pk: int) -> HttpResponse:
    """The timeline's hash chain recomputed, for htmx to load into the incident's page once it is
    shown (the whole page with it without JavaScript), so the page itself costs the same however
    long the timeline."""
    incident = _load(_incident(request, pk).pk)
    context = ({"incident": incident, "verification": timeline.verify(incident)} if is_htmx(request)
               else _detail_context(request, incident, verify=True))
    return render_region(request, "incidents/incident_detail.html", "verification", context)


@login_required
@require_POST
def update_facts(request: AuthedRequest, pk: int) -> HttpResponse:
    incident = _incident(request, pk, edit=True)
    form = FactsForm(request.POST, incident=incident)
    systems = _system_choices(request.POST)
    if "find_systems" in request.POST:  # "Find" without JavaScript: nothing saved, the systems found
        return _render_detail(request, incident, facts_form=form, systems=systems)
    if form.is_valid():
        try:
            actions.do_update_facts(acting_user=request.user, incident=incident, request=request, **form.changes())
        except ValidationError as error:
            return _render_detail(request, incident, 400, facts_form=form, problems=_problems(error),
                                  problems_for="facts", systems=systems)
        messages.success(request, "Facts saved; the notifications due are brought up to date.")
        return redirect("incident", pk=pk)
    return _render_detail(request, incident, 400, facts_form=form, systems=systems)


@login_required
@require_POST
def change_team(request: AuthedRequest, pk: int) -> HttpResponse:
    """The team's form: with htmx only the team's region comes back (its errors answered 200 so
    htmx shows them); without, the page (400 on errors) or a redirect."""
    incident = access.get_incident_for_team_change(request.user, pk)
    form: TeamForm | None = TeamForm(request.POST, incident=incident, members_rule=team.MEMBERS_RULE)
    problems: list[str] = []
    saved = ""
    if form is not None and form.is_valid():
        try:
            change = team.do_change_team(acting_user=request.user, incident=incident, people=form.people(),
                                         add_members=form.cleaned_data.get("add_members", []),
                                         remove_members=form.cleaned_data.get("remove_members", []), request=request)
        except ValidationError as error:
            problems = _problems(error)
        else:
            saved = ("Team changed: " + "; ".join(change.lines) + ".") if change.lines else "The team is unchanged."
            if not is_htmx(request):
                messages.success(request, saved)
                return redirect("incident", pk=pk)
            form = None
    if is_htmx(request):
        context = _detail_context(request, _load(pk), team_form=form, team_saved=saved, problems=problems,
                                  problems_for="team" if problems else "")
        return render_region(request, "incidents/incident_detail.html", "team", context)
    return _render_detail(request, incident, 400, team_form=form, problems=problems, problems_for="team")


@login_required
@require_POST
def change_status(request: AuthedRequest, pk: int) -> HttpResponse:
    incident = _incident(request, pk, edit=True)
    form = StatusForm(request.POST)
    if form.is_valid():
        try:
            incident = actions.do_change_status(acting_user=request.user, incident=incident, request=request,
                                                status=form.cleaned_data["status"], note=form.cleaned_data["note"])
        except ValidationError as error:
            for problem in _problems(error):
                messages.error(request, problem)
        else:
            messages.success(request, f"The incident is now in {incident.get_status_display().lower()}.")
    return redirect("incident", pk=pk)


@login_required
@require_POST
def law_enforcement(request: AuthedRequest, pk: int) -> HttpResponse:
    incident = _incident(request, pk, edit=True)
    form = LawEnforcementForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            actions.do_record_law_enforcement_decision(
                acting_user=request.user, incident=incident, decision=data["decision"], rationale=data["rationale"],
                contact=data["contact"], decided_by=data["decided_by"], decided_at=data["decided_at"],
                request=request)
        except ValidationError as error:
            return _render_detail(request, incident, 400, le_form=form, problems=_problems(error),
                                  problems_for="law_enforcement")
        messages.success(request, "The law-enforcement decision is recorded.")
        return redirect("incident", pk=pk)
    return _render_detail(request, incident, 400, le_form=form)


@login_required
@require_POST
def add_timeline_entry(request: AuthedRequest, pk: int) -> HttpResponse:
    incident = _incident(request, pk, edit=True)
    form = TimelineEntryForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        upload = data["evidence"]
        evidence = None
        if upload is not None:
            if upload.size > timeline.MAX_EVIDENCE_BYTES:
                return _render_detail(request, incident, 400, entry_form=form, problems_for="timeline", problems=[
                    f"The evidence file is {upload.size:,} bytes; at most {timeline.MAX_EVIDENCE_BYTES:,} are allowed."])
            evidence = (upload.name, upload.read())
        try:
            entry = actions.do_add_timeline_entry(acting_user=request.user, incident=incident, text=data["text"],
                                                  event_at=data["event_at"], evidence=evidence, request=request)
        except ValidationError as error:
            return _render_detail(request, incident, 400, entry_form=form, problems=_problems(error),
                                  problems_for="timeline")
        messages.success(request, f"Entry #{entry.seq} added to the timeline"
                         + (f" with {entry.evidence_name} (SHA-256 {entry.evidence_sha256})." if evidence else "."))
        return redirect("incident", pk=pk)
    return _render_detail(request, incident, 400, entry_form=form)


# --- a checklist step ----------------------------------------------------------------------

OUTCOMES = {"done": "Done", "skip": "Skip", "differently": "Done differently"}


@login_required
def step_outcome(request: AuthedRequest, pk: int, key: str, outcome: str) -> HttpResponse:
    """Done, skipped or done differently. A deviation (a required step skipped, any step done
    differently, or one done before an earlier required step) asks for its full explanation,
    who decided and when; the action refuses it without them and nothing is saved."""
    if outcome not in OUTCOMES:
        raise Http404
    incident = _incident(request, pk, edit=True)
    step = ChecklistStep.objects.filter(incident=incident, step_key=key).first()
    if step is None:
        raise Http404
    form = DeviationForm(request.POST if request.method == "POST" else None, initial={"decided_at": local_now(), "decided_by": (
        request.user.person.email if request.user.person else "")})
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        given = any([data["explanation"].strip(), data["decided_by"]])
        reason = DeviationReason(data["explanation"], data["decided_by"], data["decided_at"]) if given else None
        do = {"done": actions.do_complete_step, "skip": actions.do_skip_step, "differently": actions.do_deviate}[outcome]
        try:
            do(acting_user=request.user, incident=incident, step_key=key, note=data["note"], deviation=reason,
               request=request)
        except ValidationError as error:
            problems = _problems(error)
        else:
            messages.success(request, f"Step {step.order} “{step.title}”: {OUTCOMES[outcome].lower()}.")
            return redirect("incident", pk=pk)
    deviation = outcome == "differently" or (outcome == "skip" and step.required) or (
        outcome == "done" and incident.steps.filter(order__lt=step.order, required=True,
                                                    state=StepState.PENDING).exists())
    return render(request, "incidents/step_outcome.html", {
        "incident": incident, "step": step, "outcome": outcome, "label": OUTCOMES[outcome], "form": form,
        "problems": problems, "deviation": deviation}, status=400 if problems or form.errors else 200)


# --- a notification ------------------------------------------------------------------------

@login_required
def notification_outcome(request: AuthedRequest, pk: int, nid: int) -> HttpResponse:
    """Send an internal notification by email from Bastion (a plan role or a named person), record
    one done some other way, or record it as not required."""
    incident = _incident(request, pk, edit=True)
    row = incident.notifications.filter(pk=nid).first()
    if row is None:
        raise Http404
    message = notices.fill_message(row, incident)
    done_form = NotificationDoneForm(initial={"notified_at": local_now(), "notified_whom": row.recipient_label,
                                              "channel": row.channel or "email", "what_was_said": message,
                                              "notified_by": request.user.person.email if request.user.person else ""})
    not_required_form = NotRequiredForm()
    send_form = SendNotificationForm(initial={"text": message}) if notices.is_internal(row) else None
    problems: list[str] = []
    problems_for = ""
    if request.method == "POST":
        outcome = request.POST.get("outcome")
        problems_for = outcome or ""
        try:
            if outcome == "send" and send_form is not None:
                send_form = SendNotificationForm(request.POST)
                if send_form.is_valid():
                    sent = notices.do_send_notification(acting_user=request.user, notification=row, request=request,
                                                        text=send_form.cleaned_data["text"])
                    messages.success(request, f"{row.rule_name} → {row.recipient_label}: emailed to "
                                     f"{', '.join(sent.emailed_to)} and recorded as done.")
                    return redirect("incident", pk=pk)
            elif outcome == "done":
                done_form = NotificationDoneForm(request.POST)
                if done_form.is_valid():
                    data = done_form.cleaned_data
                    actions.do_record_notification(
                        acting_user=request.user, notification=row, notified_by=data["notified_by"],
                        notified_whom=data["notified_whom"], notified_at=data["notified_at"],
                        channel=data["channel"], what_was_said=data["what_was_said"], request=request)
                    messages.success(request, f"{row.rule_name} → {row.recipient_label}: recorded as done.")
                    return redirect("incident", pk=pk)
            elif outcome == "not_required":
                not_required_form = NotRequiredForm(request.POST)
                if not_required_form.is_valid():
                    actions.do_notification_not_required(acting_user=request.user, notification=row, request=request,
                                                         reason=not_required_form.cleaned_data["reason"])
                    messages.success(request, f"{row.rule_name} → {row.recipient_label}: recorded as not required.")
                    return redirect("incident", pk=pk)
            else:
                problems = ["Choose whether it was done or is not required."]
        except ValidationError as error:
            problems = _problems(error)
    status = 400 if problems or done_form.errors or not_required_form.errors or (
        send_form is not None and send_form.errors) else 200
    row.countdown = countdown(row.deadline, timezone.now()) if row.is_open else ""  # type: ignore[attr-defined]
    return render(request, "incidents/notification_outcome.html", {
        "incident": incident, "row": row, "done_form": done_form, "not_required_form": not_required_form,
        "send_form": send_form, "recipients": notices.recipients(row, incident) if send_form is not None else None,
        "problems": problems, "problems_for": problems_for}, status=status)



# --- status updates ------------------------------------------------------------------------

def _update_to_correct(incident: Incident, value: str | None) -> StatusUpdate | None:
    if not value or not value.isdigit() or len(value) > 9:
        return None
    return incident.updates.filter(pk=int(value)).first()


@login_required
def send_update(request: AuthedRequest, pk: int) -> HttpResponse:
    """Send a status update. With ``?corrects=<id>`` it is a correction of that update, prefilled
    with what it said: the sent update itself never changes."""
    incident = _incident(request, pk, edit=True)
    corrected = _update_to_correct(incident, request.GET.get("corrects"))
    initial: dict = {"next_update_at": local_now() + timedelta(hours=4), "audiences": ["executives"]}
    if corrected is not None:
        initial |= {"what_happened": corrected.what_happened, "containment": corrected.containment,
                    "impact": corrected.impact, "confidence": corrected.confidence, "unknowns": corrected.unknowns,
                    "audiences": corrected.audiences, "corrects": corrected.pk,
                    "customer_addresses": "\n".join(corrected.customer_addresses)}
    form = StatusUpdateForm(request.POST if request.method == "POST" else None, initial=initial)
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        corrected = _update_to_correct(incident, str(data["corrects"] or ""))
        if data["corrects"] and corrected is None:
            problems = ["The update to correct is not one of this incident's updates."]
        else:
            try:
                update = updates.do_send_update(
                    acting_user=request.user, incident=incident, what_happened=data["what_happened"],
                    containment=data["containment"], impact=data["impact"], confidence=data["confidence"],
                    unknowns=data["unknowns"], audiences=data["audiences"],
                    # A final update has no next one: a time left in the field is not sent.
                    next_update_at=None if data["final"] else data["next_update_at"], final=data["final"],
                    customer_addresses=data["customer_addresses"], corrects=corrected,
                    beyond_members=data["beyond_members"], request=request)
            except ValidationError as error:
                problems = _problems(error)
            else:
                messages.success(request, f"Status update {update.number} sent to {update.recipient_count} "
                                 f"recipient{'s' if update.recipient_count != 1 else ''}.")
                return redirect(f"/incidents/{incident.pk}/#updates")
    return render(request, "incidents/update_form.html", {
        "incident": incident, "form": form, "corrected": corrected, "problems": problems},
        status=400 if problems or form.errors else 200)


# --- post-incident review ------------------------------------------------------------------

def _review_page(request: AuthedRequest, incident: Incident, *, form=None, items=None, waiver_form=None,
                 problems: list[str] | None = None, problems_for: str = "", status: int = 200) -> HttpResponse:
    current = review.review_of(incident)
    can_edit = access.can_run_incidents(request.user) and incident.status != Status.CLOSED
    if form is None:
        choice = "" if current.plan_should_change is None else ("yes" if current.plan_should_change else "no")
        form = ReviewForm(initial={"root_cause": current.root_cause, "what_worked": current.what_worked,
                                   "what_did_not": current.what_did_not, "plan_should_change": choice,
                                   "plan_changes": current.plan_changes, "complete": current.completed_at is not None})
    saved = list(current.action_items.select_related("owner")) if current.pk else []
    if items is None:
        items = ActionItemFormSet(prefix="items", initial=[
            {"id": a.pk, "title": a.title, "owner": a.owner.email, "due_date": a.due_date, "status": a.status}
            for a in saved])
    can_waive = (request.user.has_role(Role.SECURITY_LEAD) and incident.status != Status.CLOSED
                 and current.completed_at is None and current.waived_at is None)
    return render(request, "incidents/review.html", {
        "incident": incident, "review": current, "action_items": saved, "form": form, "items": items,
        "can_edit": can_edit, "can_waive": can_waive, "waiver_form": waiver_form or WaiverForm(),
        "deviations": incident.deviations.select_related("step", "decided_by").order_by("recorded_at", "id"),
        "problems": problems or [], "problems_for": problems_for}, status=status)


@login_required
def review_page(request: AuthedRequest, pk: int) -> HttpResponse:
    """The review: read by whoever sees the incident, written by the lead and team while it is open."""
    if request.method != "POST":
        return _review_page(request, _incident(request, pk))
    incident = _incident(request, pk, edit=True)
    form, items = ReviewForm(request.POST), ActionItemFormSet(request.POST, prefix="items")
    if not (form.is_valid() and items.is_valid()):
        return _review_page(request, incident, form=form, items=items, status=400)
    data = form.cleaned_data
    inputs = [review.ActionItemInput(title=row["title"], owner=row["owner"], due_date=row["due_date"],
                                     status=row["status"], id=row["id"])
              for row in items.cleaned_data if row and not row.get("DELETE")]
    try:
        saved = review.do_save_review(
            acting_user=request.user, incident=incident, root_cause=data["root_cause"],
            what_worked=data["what_worked"], what_did_not=data["what_did_not"],
            plan_should_change=data["plan_should_change"], plan_changes=data["plan_changes"],
            action_items=inputs, complete=data["complete"], request=request)
    except ValidationError as error:
        return _review_page(request, incident, form=form, items=items, problems=_problems(error),
                            problems_for="review", status=400)
    messages.success(request, "The post-incident review is complete." if saved.completed_at
                     else "The post-incident review is saved.")
    return redirect("incident-review", pk=pk)


@login_required
@require_POST
def waive_review(request: AuthedRequest, pk: int) -> HttpResponse:
    incident = access.get_incident_for_waiver(request.user, pk)
    form = WaiverForm(request.POST)
    if not form.is_valid():
        return _review_page(request, incident, waiver_form=form, status=400)
    try:
        review.do_waive_review(acting_user=request.user, incident=incident, reason=form.cleaned_data["reason"],
                               request=request)
    except ValidationError as error:
        return _review_page(request, incident, waiver_form=form, problems=_problems(error), problems_for="waiver",
                            status=400)
    messages.success(request, "The post-incident review is waived; the incident may close without it.")
    return redirect("incident-review", pk=pk)


# --- the dossier ---------------------------------------------------------------------------

@login_required
def dossier_json(request: AuthedRequest, pk: int) -> HttpResponse:
    incident = _incident(request, pk)
    response = JsonResponse(dossier.dossier(incident), json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="{incident.reference.lower()}-dossier.json"'
    return response


@login_required
def dossier_pdf(request: AuthedRequest, pk: int) -> HttpResponse:
    incident = _incident(request, pk)
    response = HttpResponse(dossier.render_dossier_pdf(incident), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{dossier.dossier_pdf_filename(incident)}"'
    return response
