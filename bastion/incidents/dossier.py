"""The incident dossier for legal, regulators and the board: every record of the incident in one
JSON document, and the same laid out as PDF by WeasyPrint from ``incidents/dossier/dossier.html``.

Contents: the facts and clocks, the plan version it ran under (number and content hash), the
checklist, deviations, notifications due and what was done about them, the law-enforcement
decision, every status update (corrections linked), the post-incident review with its action
items, and the timeline — each entry with its hash, the head hash and the result of verifying the
chain when the dossier was made. Evidence is listed by name, size and SHA-256, never embedded.

The PDF fetches nothing (as response/pdf.py): no URL is allowed, so it renders offline. Who may
have a dossier is decided by access.py (the views call ``get_incident_for_view``).
"""

from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from . import timeline
from .models import Incident, PostIncidentReview, time_text


def _t(value) -> str | None:
    return time_text(value) if value is not None else None


def _email(obj) -> str | None:
    return obj.email if obj is not None else None


def dossier(incident: Incident, now=None) -> dict[str, Any]:
    """Everything recorded about the incident, as plain JSON values (times in UTC ISO 8601)."""
    now = now or timezone.now()
    incident = (Incident.objects.select_related("plan_version", "declared_by", "incident_commander", "scribe",
                                                "liaison", "legal", "law_enforcement_decided_by")
                .get(pk=incident.pk))
    version = incident.plan_version
    verification = timeline.verify(incident)
    review = (PostIncidentReview.objects.select_related("completed_by", "waived_by")
              .filter(incident=incident).first())
    updates = list(incident.updates.select_related("sent_by", "corrects").order_by("number"))
    corrected_by: dict[int, list[int]] = {}
    for u in updates:
        if u.corrects is not None:
            corrected_by.setdefault(u.corrects.number, []).append(u.number)
    entries = list(incident.timeline.order_by("seq").values(
        "seq", "event_at", "recorded_at", "author_label", "kind", "text", "evidence_name", "evidence_sha256",
        "evidence_size", "prev_hash", "hash"))
    return {
        "generated_at": time_text(now),
        "incident": {
            "id": incident.pk, "reference": incident.reference, "title": incident.title, "summary": incident.summary,
            "status": incident.status, "type": incident.type_key,
            "type_name": incident.incident_type().get("name", incident.type_key),
            "severity": incident.severity, "suggested_severity": incident.suggested_severity,
            "severity_reason": incident.severity_reason, "detected_at": _t(incident.detected_at),
            "declared_at": _t(incident.declared_at), "declared_by": _email(incident.declared_by),
            "reported_by": incident.reported_by, "closed_at": _t(incident.closed_at),
            "restricted": incident.restricted,
            "members": sorted(incident.members.values_list("email", flat=True)),
            "affected_systems": list(incident.affected_systems.order_by("name").values("id", "name")),
            "system_tier": incident.system_tier, "data_involved": list(incident.data_involved),
            "facts": incident.facts,
            "clocks": {k: _t(v) for k, v in sorted(incident.clock_times().items()) if v is not None},
            "team": {role: _email(getattr(incident, role))
                     for role in ("incident_commander", "scribe", "liaison", "legal")},
        },
        "plan_version": {"number": version.number, "content_hash": version.content_hash,
                         "published_at": _t(version.published_at)},
        "checklist": [{
            "order": s.order, "key": s.step_key, "title": s.title, "required": s.required, "state": s.state,
            "done_at": _t(s.done_at), "done_by": _email(s.done_by), "note": s.note,
        } for s in incident.steps.select_related("done_by").order_by("order")],
        "deviations": [{
            "step": d.step.step_key if d.step else None, "step_title": d.step.title if d.step else None,
            "kind": d.kind, "explanation": d.explanation, "decided_by": d.decided_by.email,
            "decided_at": _t(d.decided_at), "recorded_by": _email(d.recorded_by), "recorded_at": _t(d.recorded_at),
        } for d in incident.deviations.select_related("step", "decided_by", "recorded_by").order_by("recorded_at", "id")],
        "notifications": [{
            "rule": n.rule_key, "rule_name": n.rule_name, "recipient": n.recipient_label, "status": n.status,
            "deadline": _t(n.deadline), "channel": n.channel, "notified_by": _email(n.notified_by),
            "notified_whom": n.notified_whom, "notified_at": _t(n.notified_at), "notified_channel": n.notified_channel,
            "what_was_said": n.what_was_said, "emailed_to": n.emailed_to,
            "not_required_reason": n.not_required_reason, "escalated_at": _t(n.escalated_at),
        } for n in incident.notifications.select_related("notified_by")],
        "law_enforcement": {
            "required": incident.law_enforcement_required(), "decision": incident.law_enforcement_decision,
            "rationale": incident.law_enforcement_rationale, "contact": incident.law_enforcement_contact,
            "decided_by": _email(incident.law_enforcement_decided_by),
            "decided_at": _t(incident.law_enforcement_decided_at),
        },
        "updates": [{
            "number": u.number, "sent_at": _t(u.sent_at), "sent_by": _email(u.sent_by),
            "what_happened": u.what_happened, "containment": u.containment, "impact": u.impact,
            "confidence": u.confidence, "unknowns": u.unknowns, "next_update_at": _t(u.next_update_at),
            "final": u.final,
            "audiences": u.audiences, "customer_addresses": u.customer_addresses,
            "recipient_count": u.recipient_count, "corrects": u.corrects.number if u.corrects else None,
            "corrected_by": corrected_by.get(u.number, []),
        } for u in updates],
        "review": None if review is None else {
            "root_cause": review.root_cause, "what_worked": review.what_worked, "what_did_not": review.what_did_not,
            "plan_should_change": review.plan_should_change, "plan_changes": review.plan_changes,
            "completed_at": _t(review.completed_at), "completed_by": _email(review.completed_by),
            "waived_at": _t(review.waived_at), "waived_by": _email(review.waived_by),
            "waiver_reason": review.waiver_reason,
            "action_items": [{
                "title": a.title, "owner": a.owner.email, "due_date": a.due_date.isoformat(), "status": a.status,
                "done_at": _t(a.done_at),
            } for a in review.action_items.select_related("owner")],
        },
        "evidence": [{"seq": e["seq"], "name": e["evidence_name"], "size": e["evidence_size"],
                      "sha256": e["evidence_sha256"]} for e in entries if e["evidence_sha256"]],
        "timeline": {
            "entries": [{**e, "event_at": _t(e["event_at"]), "recorded_at": _t(e["recorded_at"])} for e in entries],
            "head_hash": verification.head,
            "verification": {"ok": verification.ok, "checked": verification.checked, "problem": verification.problem,
                             "seq": verification.seq},
        },
    }


def dossier_pdf_filename(incident: Incident) -> str:
    return f"{incident.reference.lower()}-dossier.pdf"


def dossier_document(incident: Incident, now=None):
    """The laid-out dossier (a ``weasyprint.Document``): tests read its pages and text from here.

    The timeline may run to thousands of entries, so the template lays it out on landscape pages
    as one plain paragraph per entry, not as table rows: WeasyPrint takes several times longer
    over a table of that length (bench/incidents_bench.py: 2,000 entries)."""
    from weasyprint import HTML  # imported here: loading pango takes a moment, needed only now
    from weasyprint.urls import URLFetcher

    html = render_to_string("incidents/dossier/dossier.html", {"d": dossier(incident, now)})
    fetcher = URLFetcher(allowed_protocols=(), timeout=1)  # nothing is fetched (see the docstring)
    return HTML(string=html, url_fetcher=fetcher).render()


def render_dossier_pdf(incident: Incident, now=None) -> bytes:
    """The dossier as PDF bytes."""
    return dossier_document(incident, now).write_pdf()
