"""The incident response plan's pages: the plan in force (and, for those who run it, its draft
and who has not acknowledged it), its versions, the diff between two, the approvers' decisions,
submitting for review, the plan's settings, and acknowledging (signed in, or through the
emailed link). Editing the draft is in edit_views.py. Every plan and version comes through
access.py; the emailed paths are fixed in links.py.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from bastion.lib.http import MAX_ID, AuthedRequest, parse_id, render_region
from bastion.lib.markdown import render_markdown
from bastion.lib.tokens import ExpiredLinkToken, LinkTokenError
from bastion.people.models import Person, PersonStatus

from . import access, actions, links
from .content import CLOCKS
from .diff import diff_versions
from .evaluator import channel_label, describe, period_words
from .forms import DecisionForm, SettingsForm
from .models import Acknowledgement, Decision, Plan, PlanVersion, VersionStatus

PER_PAGE = 50


# --- the content as a reader sees it -------------------------------------------------------

def content_person_ids(content: dict) -> set[int]:
    ids = {v for role in content.get("roles", []) for h in role.get("holders", [])
           for v in (h.get("person"), h.get("deputy")) if isinstance(v, int)}
    ids |= {r["person"] for rule in content.get("rules", []) for r in rule.get("recipients", [])
            if r.get("kind") == "person" and isinstance(r.get("person"), int)}
    return ids


def present(content: dict) -> dict:
    """The content ready to show: Markdown rendered (sanitised), people named, roles named in
    steps and rules, each rule's condition and deadline in words (one query, for the people)."""
    ids = content_person_ids(content)
    people = {p.pk: p for p in Person.objects.filter(pk__in=ids).only("first_name", "last_name", "email")} if ids else {}
    role_names = {r["key"]: r.get("name") or r["key"] for r in content.get("roles", [])}

    def who(person_id):
        return people.get(person_id) or f"person {person_id} (no longer in the directory)"

    def recipient(r: dict) -> str:
        if r.get("kind") == "role":
            return role_names.get(r.get("role"), r.get("role", ""))
        if r.get("kind") == "person":
            return str(who(r.get("person")))
        return r.get("name", "") + (f" ({r['contact']})" if r.get("contact") else "")

    rules = []
    for rule in content.get("rules", []):
        deadline = rule.get("deadline", {})
        second = deadline.get("no_later_than")
        when = rule.get("when", {})
        rules.append({
            **rule,
            "all": [describe(c) for c in when.get("all", [])], "any": [describe(c) for c in when.get("any", [])],
            "recipient_labels": [recipient(r) for r in rule.get("recipients", [])],
            "deadline_words": period_words(deadline) + (f"; no later than {period_words(second)}" if second else ""),
            "clock_label": CLOCKS.get(deadline.get("clock", ""), deadline.get("clock", "")),
            "channel_label": channel_label(rule.get("channel", "")),
        })
    return {
        "title": content.get("title", ""),
        "sections": [{**s, "html": render_markdown(s.get("body", ""))} for s in content.get("sections", [])],
        "roles": [{**r, "authority_html": render_markdown(r.get("authority", "")),
                   "holder_list": [{"person": who(h.get("person")), "deputy": who(h["deputy"]) if h.get("deputy") else None}
                                   for h in r.get("holders", [])]} for r in content.get("roles", [])],
        "severities": content.get("severities", []),
        "incident_types": [{**t, "steps": [{**s, "owner": role_names.get(s.get("owner_role"), s.get("owner_role"))}
                                           for s in t.get("playbook", [])]} for t in content.get("incident_types", [])],
        "calendars": content.get("calendars", []),
        "rules": rules,
    }


def _approvals(version: PlanVersion, *, all_decisions: bool):
    approvals = version.approvals.select_related("approver")
    return approvals if all_decisions else approvals.standing().filter(decision=Decision.APPROVED)


def _must_acknowledge(user, plan: Plan, version: PlanVersion | None) -> bool:
    if version is None or user.person_id is None:
        return False
    if Acknowledgement.objects.filter(version=version, person_id=user.person_id).exists():
        return False
    return plan.required_readers().filter(pk=user.person_id).exists()


# --- the plan in force ---------------------------------------------------------------------

@login_required
def plan_home(request: AuthedRequest) -> HttpResponse:
    user = request.user
    plan = access.plans_visible_to(user).select_related("owner").order_by("pk").first()
    if plan is None:
        return render(request, "response/plan_empty.html", {"can_install": access.can_manage_plan_settings(user)})
    in_force = plan.published()
    reads_all = access.can_view_all_versions(user)
    context = {
        "plan": plan, "version": in_force, "reads_all": reads_all,
        "can_edit": access.can_edit_plan(user), "can_settings": access.can_manage_plan_settings(user),
        "must_acknowledge": _must_acknowledge(user, plan, in_force),
        "acknowledged": in_force is not None and user.person_id is not None
        and Acknowledgement.objects.filter(version=in_force, person_id=user.person_id).first(),
    }
    if in_force is not None:
        context |= {"content": present(in_force.content), "approvals": _approvals(in_force, all_decisions=False)}
    if reads_all:
        working = plan.working_version()
        context |= {"working": working, "can_decide": working is not None and working.status == VersionStatus.IN_REVIEW
                    and access.can_decide(user, plan), "review_due_on": plan.review_due_on()}
        if in_force is not None:
            access.require_acknowledgement_reader(user)
            readers = plan.required_readers()
            acks = Acknowledgement.objects.filter(version=in_force, person=OuterRef("pk"))
            pending = readers.exclude(Exists(acks)).order_by("last_name", "first_name", "pk").only(
                "first_name", "last_name", "email")
            page = Paginator(pending, PER_PAGE).get_page(request.GET.get("page"))
            context |= {"page_obj": page, "acknowledged_count": Acknowledgement.objects.filter(version=in_force).count()}
    return render_region(request, "response/plan_home.html", "readers", context)


@login_required
@require_POST
def plan_install(request: HttpRequest) -> HttpResponse:
    if not access.can_manage_plan_settings(request.user):
        raise PermissionDenied
    existed = Plan.current() is not None
    actions.install_starter_plan(acting_user=request.user, request=request)
    if existed:
        messages.info(request, "The plan exists already: nothing was installed.")
    else:
        messages.success(request, "The starter plan is installed as draft version 1. Name the approvers in the "
                                  "settings, adapt the plan, then submit it for review.")
    return redirect("plan-home")


@login_required
@require_POST
def plan_submit(request: HttpRequest) -> HttpResponse:
    plan = access.current_plan_for_view(request.user)
    access.get_plan_for_edit(request.user, plan.pk)
    try:
        version = actions.do_submit_for_review(acting_user=request.user, plan=plan, request=request)
    except actions.PlanStateError as error:
        messages.error(request, str(error))
        return redirect("plan-home")
    if version.status == VersionStatus.PUBLISHED:
        messages.success(request, f"Version {version.number} was approved already and is now published.")
    else:
        messages.success(request, f"Version {version.number} is submitted: the approvers have been asked by email.")
    return redirect("plan-version", number=version.number)


@login_required
def plan_settings(request: HttpRequest) -> HttpResponse:
    plan = access.get_plan_for_settings(request.user, access.current_plan_for_view(request.user).pk)
    form = SettingsForm(request.POST or None, initial={
        "name": plan.name, "owner": plan.owner, "approvers": list(plan.approvers.all()),
        "review_interval_months": plan.review_interval_months, "reader_roles": plan.reader_roles,
        "reader_groups": list(plan.reader_groups.all())})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.do_update_plan_settings(
                acting_user=request.user, plan=plan, name=data["name"], owner=data["owner"],
                approvers=data["approvers"], review_interval_months=data["review_interval_months"],
                reader_roles=data["reader_roles"], reader_groups=data["reader_groups"], request=request)
        except actions.PlanStateError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Plan settings saved.")
            return redirect("plan-home")
    return render(request, "response/plan_settings.html", {"plan": plan, "form": form},
                  status=400 if form.errors else 200)


# --- versions, decisions, diff -------------------------------------------------------------

@login_required
def version_list(request: HttpRequest) -> HttpResponse:
    plan = access.current_plan_for_view(request.user)
    versions = access.versions_visible_to(request.user, plan).annotate(
        approved=Count("approvals", filter=Q(approvals__invalidated_at__isnull=True,
                                             approvals__decision=Decision.APPROVED)),
    ).defer("content").select_related("created_by").order_by("-number")
    page = Paginator(versions, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "response/version_list.html", {
        "plan": plan, "page_obj": page, "approvers": plan.approvers.count(),
        "reads_all": access.can_view_all_versions(request.user)})


@login_required
def version_detail(request: HttpRequest, number: int) -> HttpResponse:
    user = request.user
    plan = access.current_plan_for_view(user)
    version = _version(user, plan, number)
    reads_all = access.can_view_all_versions(user)
    can_decide = version.status == VersionStatus.IN_REVIEW and access.can_decide(user, plan)
    others = list(access.versions_visible_to(user, plan).exclude(pk=version.pk).order_by("-number")
                  .values_list("number", flat=True)) if reads_all else []
    form = DecisionForm(initial={"version": version.number, "content_hash": version.content_hash,
                                 "decision": Decision.APPROVED}) if can_decide else None
    return render(request, "response/version_detail.html", {
        "plan": plan, "version": version, "content": present(version.content), "reads_all": reads_all,
        "approvals": _approvals(version, all_decisions=reads_all), "can_decide": can_decide, "form": form,
        "others": others, "can_edit": access.can_edit_plan(user),
        "must_acknowledge": version.status == VersionStatus.PUBLISHED and _must_acknowledge(user, plan, version),
    })


@login_required
@require_POST
def version_decide(request: AuthedRequest, number: int) -> HttpResponse:
    user = request.user
    plan = access.get_plan_for_decision(user, access.current_plan_for_view(user).pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve or request changes; the page must state the version you read.")
        return redirect("plan-version", number=number)
    data = form.cleaned_data
    try:
        approval = actions.do_decide(acting_user=user, plan=plan, version_number=data["version"],
                                     content_hash=data["content_hash"], decision=data["decision"],
                                     comment=data["comment"], request=request)
    except actions.PlanStateError as error:
        messages.error(request, str(error))
        return redirect("plan-version", number=number)
    approval.version.refresh_from_db()
    if approval.decision == Decision.CHANGES_REQUESTED:
        messages.success(request, f"Changes requested: version {approval.version.number} is back with its editors.")
    elif approval.version.status == VersionStatus.PUBLISHED:
        messages.success(request, f"Approved. Every approver has approved: version {approval.version.number} "
                                  "is published and in force.")
    else:
        messages.success(request, f"Approved version {approval.version.number}; other approvers are still to decide.")
    return redirect("plan-version", number=approval.version.number)


def _not_found() -> PlanVersion:
    raise Http404


def _version(user, plan: Plan, number: int) -> PlanVersion:
    """The version numbered in the URL (a number too large to be one is not found)."""
    if number > MAX_ID:
        raise Http404
    return access.get_version_for_view(user, plan, number)


def _lines(lines: list[str]) -> list[tuple[str, str]]:
    """A unified diff's lines as (kind, text): kind is added, removed, hunk or same."""
    kinds = {"+": "added", "-": "removed", "@": "hunk"}
    return [(kinds.get(line[:1], "same"), line[1:] if line[:1] in "+- " else line) for line in lines]


@login_required
def plan_diff(request: HttpRequest) -> HttpResponse:
    user = request.user
    plan = access.current_plan_for_view(user)
    numbers = parse_id(request.GET.get("from")), parse_id(request.GET.get("to"))
    old, new = (access.get_version_for_view(user, plan, n) if n is not None else _not_found() for n in numbers)
    diff = diff_versions(old, new)
    sections = [{"change": s, "lines": _lines(s.lines)} for s in diff.sections]
    return render(request, "response/plan_diff.html", {
        "plan": plan, "old": old, "new": new, "diff": diff, "sections": sections,
        "versions": list(access.versions_visible_to(user, plan).order_by("-number").values_list("number", flat=True)),
    })


# --- acknowledging -------------------------------------------------------------------------

@login_required
@require_POST
def acknowledge(request: HttpRequest) -> HttpResponse:
    plan = access.current_plan_for_view(request.user)
    person = access.person_acknowledging(request.user)
    version = plan.published()
    if person is None:
        messages.error(request, "Your account is not linked to a person in the directory: ask the security "
                                "team to link it, then acknowledge.")
    elif version is None:
        messages.error(request, "No version of the plan is in force yet.")
    else:
        try:
            actions.do_acknowledge(version=version, person=person, acting_user=request.user, request=request)
        except actions.PlanStateError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"Thank you: you have acknowledged version {version.number} of the plan.")
    return redirect("plan-home")


def _link_message(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "response/acknowledge_message.html", {"message": message, "is_error": True},
                  status=status)


def acknowledge_link(request: HttpRequest, token: str) -> HttpResponse:
    """A reader's emailed link: read the plan in force and acknowledge it, without signing in.
    The signed link is the key and grants this and nothing else."""
    try:
        person_id = links.person_id_from_acknowledge_token(token)
    except LinkTokenError as error:
        # Expired, or for a version no longer in force: gone. Tampered or not ours: bad.
        gone = isinstance(error, ExpiredLinkToken | links.StaleAcknowledgeLink)
        return _link_message(request, str(error), 410 if gone else 400)
    person = Person.objects.filter(pk=person_id, status=PersonStatus.ACTIVE).first()
    if person is None:
        return _link_message(request, "This link is for someone who is no longer in the directory.", 410)
    plan = Plan.current()
    version = plan.published() if plan is not None else None
    if version is None:
        return _link_message(request, "No version of the plan is in force: there is nothing to acknowledge.", 410)
    acknowledgement = Acknowledgement.objects.filter(version=version, person=person).first()
    if request.method == "POST" and acknowledgement is None:
        try:
            actions.do_acknowledge(version=version, person=person, request=request)
        except actions.PlanStateError as error:  # superseded since the page was read
            return _link_message(request, str(error), 409)
        messages.success(request, f"Thank you, {person.first_name}: you have acknowledged version "
                                  f"{version.number} of the plan.")
        return redirect(request.path)
    return render(request, "response/acknowledge_link.html", {
        "plan": plan, "version": version, "person": person, "acknowledgement": acknowledgement,
        "content": present(version.content)})
