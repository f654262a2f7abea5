"""Editing the plan's draft as structured data: one page per part (sections, roles, severity
levels, incident types and their playbook steps, calendars, notification rules), one form per
item. Each save rebuilds the whole content from the version being worked on (or the version in
force, which starts a new draft) and calls actions.do_save_draft; invalid content is shown
beside the form with every problem, and nothing is saved.
"""

import copy
from dataclasses import dataclass

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import access, actions
from .content import ContentError
from .forms import (
    CalendarForm,
    IncidentTypeForm,
    ItemForm,
    RoleForm,
    RuleForm,
    SectionForm,
    SeverityForm,
    StepForm,
    SummaryForm,
)
from .models import Plan, PlanVersion, VersionStatus


@dataclass(frozen=True)
class Part:
    slug: str  # in the URL
    field: str  # in the content
    label: str
    singular: str
    form: type[ItemForm]
    name_field: str = "name"


PARTS = {p.slug: p for p in (
    Part("sections", "sections", "Sections", "section", SectionForm, "title"),
    Part("roles", "roles", "Roles and authorities", "role", RoleForm),
    Part("severities", "severities", "Severity levels", "severity level", SeverityForm),
    Part("types", "incident_types", "Incident types and playbooks", "incident type", IncidentTypeForm),
    Part("calendars", "calendars", "Holiday calendars", "calendar", CalendarForm),
    Part("rules", "rules", "Notification rules", "notification rule", RuleForm),
)}
STEPS = Part("steps", "playbook", "Playbook", "step", StepForm, "title")


def _editing(request: HttpRequest) -> tuple[Plan, PlanVersion]:
    """The plan and the version edits start from: the one being worked on, else the one in force."""
    plan = access.get_plan_for_edit(request.user, access.current_plan_for_view(request.user).pk)
    base = plan.working_version() or plan.published()
    if base is None:
        raise Http404
    return plan, base


def _part(slug: str) -> Part:
    if slug not in PARTS:
        raise Http404
    return PARTS[slug]


def _find(items: list[dict], key: str) -> dict:
    item = next((i for i in items if i.get("key") == key), None)
    if item is None:
        raise Http404
    return item


def _items(content: dict, part: Part, type_key: str | None) -> list[dict]:
    """The list the part's items live in (a type's playbook for steps), in ``content``."""
    if type_key is None:
        return content.setdefault(part.field, [])
    return _find(content.setdefault("incident_types", []), type_key).setdefault("playbook", [])


def _save(request: HttpRequest, plan: Plan, content: dict, done: str) -> list[str]:
    """Save the content as the draft; [] on success (with a message), else every problem."""
    try:
        version = actions.do_save_draft(acting_user=request.user, plan=plan, content=content, request=request)
    except ContentError as error:
        return error.messages
    messages.success(request, f"{done} Draft version {version.number} saved.")
    return []


def _state(base: PlanVersion) -> dict:
    return {"base": base, "is_draft": base.status == VersionStatus.DRAFT,
            "in_review": base.status == VersionStatus.IN_REVIEW, "in_force": base.status == VersionStatus.PUBLISHED}


@login_required
def edit_home(request: HttpRequest) -> HttpResponse:
    plan, base = _editing(request)
    form = SummaryForm(request.POST or None, initial={"summary_of_changes": base.summary_of_changes
                                                      if base.editable else ""})
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            version = actions.do_save_draft(acting_user=request.user, plan=plan, content=base.content,
                                            summary_of_changes=form.cleaned_data["summary_of_changes"],
                                            request=request)
        except ContentError as error:
            problems = error.messages
        else:
            messages.success(request, f"Draft version {version.number} saved.")
            return redirect("plan-edit")
    counts = [(part, len(base.content.get(part.field, []))) for part in PARTS.values()]
    return render(request, "response/edit_home.html", {
        "plan": plan, "form": form, "counts": counts, "problems": problems, **_state(base)},
        status=400 if problems else 200)


@login_required
def part_list(request: HttpRequest, part: str) -> HttpResponse:
    plan, base = _editing(request)
    spec = _part(part)
    return render(request, "response/edit_part.html", {
        "plan": plan, "part": spec, "items": _rows(base.content.get(spec.field, []), spec), **_state(base)})


def _rows(items: list[dict], spec: Part) -> list[dict]:
    return [{"key": item.get("key"), "label": item.get(spec.name_field) or item.get("key")} for item in items]


def _item_page(request: HttpRequest, spec: Part, key: str | None, type_key: str | None = None) -> HttpResponse:
    plan, base = _editing(request)
    content = copy.deepcopy(base.content)
    items = _items(content, spec, type_key)
    existing = _find(items, key) if key is not None else None
    extra = {"roles": content.get("roles", [])} if spec is STEPS else {}
    form = spec.form(request.POST or None, item=existing, **extra)
    problems: list[str] = []
    back = _back(spec, type_key)
    if request.method == "POST" and form.is_valid():
        item = form.item()
        if existing is None:
            if any(i.get("key") == item["key"] for i in items):
                form.add_error("key", f"The key {item['key']!r} is used already.")
            else:
                items.append(item)
        else:
            items[items.index(existing)] = item
        if not form.errors:
            name = item.get(spec.name_field) or item["key"]
            problems = _save(request, plan, content, f"{spec.singular.capitalize()} “{name}” saved.")
            if not problems:
                return redirect(back)
    parent = _find(base.content.get("incident_types", []), type_key) if type_key else None
    return render(request, "response/edit_item.html", {
        "plan": plan, "part": spec, "item": existing, "form": form,
        "label": (existing.get(spec.name_field) or existing["key"]) if existing else "", "problems": problems, "back": back,
        "parent": parent, "steps_part": STEPS, "steps": _rows(existing.get("playbook", []), STEPS) if spec.field == "incident_types" and existing else None,
        "conditions": form.condition_fields() if isinstance(form, RuleForm) else None,
        **_state(base)}, status=400 if form.errors or problems else 200)


def _back(spec: Part, type_key: str | None) -> str:
    return f"/plan/edit/types/{type_key}/" if spec is STEPS else f"/plan/edit/{spec.slug}/"


@login_required
def item_new(request: HttpRequest, part: str) -> HttpResponse:
    return _item_page(request, _part(part), None)


@login_required
def item_edit(request: HttpRequest, part: str, key: str) -> HttpResponse:
    return _item_page(request, _part(part), key)


@login_required
def step_new(request: HttpRequest, type_key: str) -> HttpResponse:
    return _item_page(request, STEPS, None, type_key)


@login_required
def step_edit(request: HttpRequest, type_key: str, key: str) -> HttpResponse:
    return _item_page(request, STEPS, key, type_key)


class _MoveForm(django_forms.Form):
    direction = django_forms.ChoiceField(choices=[("up", "up"), ("down", "down")])


def _rearrange(request: HttpRequest, spec: Part, key: str, type_key: str | None, *, remove: bool) -> HttpResponse:
    plan, base = _editing(request)
    content = copy.deepcopy(base.content)
    items = _items(content, spec, type_key)
    item = _find(items, key)
    index = items.index(item)
    name = item.get(spec.name_field) or key
    if remove:
        items.remove(item)
        done = f"{spec.singular.capitalize()} “{name}” removed."
    else:
        form = _MoveForm(request.POST)
        if not form.is_valid():
            return redirect(_back(spec, type_key))
        target = index - 1 if form.cleaned_data["direction"] == "up" else index + 1
        if not 0 <= target < len(items):
            return redirect(_back(spec, type_key))
        items[index], items[target] = items[target], items[index]
        done = f"{spec.singular.capitalize()} “{name}” moved {form.cleaned_data['direction']}."
    for problem in _save(request, plan, content, done):
        messages.error(request, f"Nothing was saved: {problem}")
    return redirect(_back(spec, type_key))


@login_required
@require_POST
def item_move(request: HttpRequest, part: str, key: str) -> HttpResponse:
    return _rearrange(request, _part(part), key, None, remove=False)


@login_required
@require_POST
def item_remove(request: HttpRequest, part: str, key: str) -> HttpResponse:
    return _rearrange(request, _part(part), key, None, remove=True)


@login_required
@require_POST
def step_move(request: HttpRequest, type_key: str, key: str) -> HttpResponse:
    return _rearrange(request, STEPS, key, type_key, remove=False)


@login_required
@require_POST
def step_remove(request: HttpRequest, type_key: str, key: str) -> HttpResponse:
    return _rearrange(request, STEPS, key, type_key, remove=True)


@login_required
@require_POST
def start_new_version(request: HttpRequest) -> HttpResponse:
    """A new draft with the content in force, unchanged (how a periodic review starts)."""
    plan, base = _editing(request)
    if base.editable:
        messages.info(request, f"Version {base.number} is already being worked on.")
    else:
        version = actions.do_save_draft(acting_user=request.user, plan=plan, content=base.content, request=request)
        messages.success(request, f"Draft version {version.number} started from version {base.number}.")
    return redirect("plan-edit")
