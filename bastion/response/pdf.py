"""A plan version as PDF, with its approval page: made by WeasyPrint from the HTML template
``response/pdf/plan.html``, the same way as the training certificates (awareness/certificate.py).

Nothing is fetched while rendering: the template links to no font, image or stylesheet, and the
URL fetcher refuses every protocol, so the document renders offline and the same everywhere
(fonts come from the machine, through fontconfig). Markdown is rendered by lib/markdown.py,
sanitised as on the pages.

The approval page lists every decision on the version (who, what, when, the content hash they
decided on and whether it is this version's hash) and, for a version that has been in force,
how many people acknowledged it. ``full_record=False`` (for those who see only the version in
force) keeps only the approvals that stand, without comments, and leaves out the
acknowledgements; the view decides which through access.py.
"""

from django.db.models import Exists, OuterRef
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify

from bastion.lib.markdown import render_markdown
from bastion.people.models import Person

from .content import FACTS
from .evaluator import channel_label, describe, period_words
from .models import Acknowledgement, Approval, Decision, PlanVersion, VersionStatus


def plan_pdf_filename(version: PlanVersion) -> str:
    return f"{slugify(version.plan.name)[:60] or 'incident-response-plan'}-version-{version.number}.pdf"


def duration_words(minutes: int | None) -> str:
    """Expected minutes as people say them: "45 min", "2 h", "1 h 30 min", "3 days"."""
    if not minutes:
        return "—"
    if minutes % (60 * 24) == 0:
        days = minutes // (60 * 24)
        return f"{days} day{'s' if days != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def condition_words(when: dict, content: dict) -> str:
    """A rule's condition in words: every ``all`` condition, and one of the ``any`` ones."""
    names = {s["key"]: s["name"] for s in content.get("severities", [])}
    names |= {t["key"]: t["name"] for t in content.get("incident_types", [])}
    held = [_condition(c, names) for c in when.get("all", [])]
    alternatives = [_condition(c, names) for c in when.get("any", [])]
    if alternatives:
        held.append(alternatives[0] if len(alternatives) == 1 else "either " + " or ".join(alternatives))
    return "; and ".join(held) if held else "Every incident"


def _condition(condition: dict, names: dict[str, str]) -> str:
    fact, value = FACTS.get(condition["fact"]), condition["value"]
    if fact is not None and fact.kind == "bool":
        return fact.help if value else f"Not: {fact.help[0].lower()}{fact.help[1:]}"
    if fact is not None and fact.kind in ("severity", "incident_type"):
        shown = [names.get(v, v) for v in (value if isinstance(value, list) else [value])]
        return _first_upper(describe({**condition, "value": shown}).replace("_", " "))
    return _first_upper(describe(condition).replace("_", " "))


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def deadline_words(deadline: dict) -> str:
    """The deadline with its clock start and unit, its note, and a second bound if any."""
    text = period_words(deadline)
    if deadline.get("note"):
        text += f" ({deadline['note']})"
    if deadline.get("no_later_than"):
        text += f"; no later than {period_words(deadline['no_later_than'])}"
    return _first_upper(text)


def _recipient_words(recipient: dict, roles: dict[str, str], people: dict[int, str]) -> str:
    kind = recipient.get("kind")
    if kind == "role":
        return f"{roles.get(recipient.get('role', ''), recipient.get('role'))} (plan role)"
    if kind == "person":
        return people.get(recipient.get("person", 0), f"person {recipient.get('person')} (not in the directory)")
    contact = recipient.get("contact")
    return f"{recipient.get('name', '')} — {contact}" if contact else recipient.get("name", "")


def _named_people(content: dict) -> dict[int, str]:
    """Directory id → "Name (title)" for everyone the content names (one query)."""
    ids: set[int] = set()
    for role in content.get("roles", []):
        for holder in role.get("holders", []):
            ids |= {v for v in (holder.get("person"), holder.get("deputy")) if isinstance(v, int)}
    for rule in content.get("rules", []):
        ids |= {r["person"] for r in rule.get("recipients", []) if isinstance(r.get("person"), int)}
    if not ids:
        return {}
    return {pk: f"{first} {last}".strip() + (f" ({title})" if title else "")
            for pk, first, last, title in Person.objects.filter(pk__in=ids)
            .values_list("pk", "first_name", "last_name", "title")}


def plan_context(version: PlanVersion, *, full_record: bool = True) -> dict:
    """Everything the PDF shows, worked out here so the template only lays it out."""
    content, plan = version.content, version.plan
    people = _named_people(content)
    role_names = {r["key"]: r["name"] for r in content.get("roles", [])}
    sections = [{"anchor": f"section-{s['key']}", "title": s["title"], "body": render_markdown(s.get("body", ""))}
                for s in content.get("sections", [])]
    roles = [{"anchor": f"role-{r['key']}", "name": r["name"], "authority": render_markdown(r.get("authority", "")),
              "holders": [{"person": people.get(h["person"], f"person {h['person']}"),
                           "deputy": people.get(h["deputy"], f"person {h['deputy']}") if h.get("deputy") else "—"}
                          for h in r.get("holders", [])]}
             for r in content.get("roles", [])]
    types = [{"anchor": f"type-{t['key']}", "name": t["name"], "description": t.get("description", ""),
              "steps": [{"title": s["title"], "description": s.get("description", ""),
                         "owner": role_names.get(s.get("owner_role", ""), s.get("owner_role")),
                         "duration": duration_words(s.get("expected_minutes")),
                         "required": s.get("required", True)} for s in t.get("playbook", [])]}
             for t in content.get("incident_types", [])]
    rules = [{"name": r["name"], "enabled": r.get("enabled", True), "source": r.get("description", ""),
              "condition": condition_words(r.get("when", {}), content),
              "recipients": [_recipient_words(x, role_names, people) for x in r.get("recipients", [])],
              "deadline": deadline_words(r["deadline"]), "channel": channel_label(r.get("channel", "")),
              "message": r.get("message", "")}
             for r in content.get("rules", [])]
    return {
        "plan": plan, "version": version, "title": content.get("title") or plan.name,
        "sections": sections, "roles": roles, "severities": content.get("severities", []), "types": types,
        "rules": rules, "calendars": content.get("calendars", []), "full_record": full_record,
        **_approval_page(version, full_record=full_record), "generated_at": timezone.now(),
    }


def _approval_page(version: PlanVersion, *, full_record: bool) -> dict:
    approvals = Approval.objects.filter(version=version).select_related("approver").order_by("at", "id")
    if not full_record:
        approvals = approvals.standing().filter(decision=Decision.APPROVED)
    rows = [{"approver": a.approver.full_name or a.approver.email, "email": a.approver.email,
             "decision": a.get_decision_display(), "approved": a.decision == Decision.APPROVED, "at": a.at,
             "content_hash": a.content_hash, "matches": a.content_hash == version.content_hash,
             "comment": a.comment if full_record else "", "standing": a.invalidated_at is None,
             "invalidated_reason": a.invalidated_reason} for a in approvals]
    decided = {a.approver_id for a in approvals if a.invalidated_at is None}
    waiting = [u.full_name or u.email for u in version.plan.approvers.order_by("full_name", "email")
               if u.pk not in decided] if version.status in (VersionStatus.DRAFT, VersionStatus.IN_REVIEW) else []
    acknowledgements = None
    if full_record and version.status in (VersionStatus.PUBLISHED, VersionStatus.SUPERSEDED):
        acknowledged = Acknowledgement.objects.filter(version=version)
        acknowledgements = {"total": acknowledged.count(), "in_force": version.status == VersionStatus.PUBLISHED}
        if version.status == VersionStatus.PUBLISHED:
            readers = version.plan.required_readers()
            of_readers = Exists(acknowledged.filter(person=OuterRef("pk")))
            acknowledgements |= {"required": readers.count(), "acknowledged": readers.filter(of_readers).count()}
    return {"approvals": rows, "waiting_for": waiting, "acknowledgements": acknowledgements}


def plan_html(version: PlanVersion, *, full_record: bool = True) -> str:
    return render_to_string("response/pdf/plan.html", plan_context(version, full_record=full_record))


def plan_document(version: PlanVersion, *, full_record: bool = True):
    """The laid-out plan (a ``weasyprint.Document``): tests read its pages and text from here."""
    from weasyprint import HTML  # imported here: loading pango takes a moment, needed only now
    from weasyprint.urls import URLFetcher

    # No protocol allowed: any stray URL (an image in a section's Markdown) fails instead of
    # reaching the network.
    fetcher = URLFetcher(allowed_protocols=(), timeout=1)
    return HTML(string=plan_html(version, full_record=full_record), url_fetcher=fetcher).render()


def render_plan_pdf(version: PlanVersion, *, full_record: bool = True) -> bytes:
    """The version as PDF bytes: title page, contents, the plan, and its approval page."""
    return plan_document(version, full_record=full_record).write_pdf()
