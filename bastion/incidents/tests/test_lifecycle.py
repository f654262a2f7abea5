"""An incident's life through the actions, with a controlled clock: declaring under the plan,
the suggested severity, the checklist and its deviations, the notifications the rules call for,
the status map and the law-enforcement decision, and the hash-chained timeline."""

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from bastion.audit.models import AuditEntry
from bastion.incidents import actions, review, timeline
from bastion.incidents.actions import DeviationReason
from bastion.incidents.models import (
    MAX_EVIDENCE_BYTES,
    ChecklistStep,
    Deviation,
    Incident,
    NotificationDue,
    NotificationStatus,
    StepState,
    TimelineEntry,
)
from bastion.incidents.severity import suggest_severity

from .conftest import T0, person
from .tamper import lift_timeline_guard

LEVELS = ["critical", "high", "medium", "low"]
WHY = "The bank's fraud line was closed; we froze the account through the relationship manager instead."


def declare(lead, **fields) -> Incident:
    values: dict[str, Any] = {"title": "Customer list emailed to the wrong address", "summary": "A spreadsheet went to a stranger.",
              "detected_at": T0 - timedelta(hours=1), "reported_by": "Bob in Sales", "type_key": "data_breach"}
    values.update(fields)
    return actions.do_declare(acting_user=lead, now=T0, **values)


def notifications(incident: Incident) -> dict[tuple[str, str], NotificationDue]:
    return {(n.rule_key, n.recipient_label): n for n in incident.notifications.all()}


def refused(call, *args, **kwargs) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        call(*args, **kwargs)
    return caught.value.messages


@pytest.mark.parametrize(("tier", "data", "expected"), [
    (1, [], "critical"),
    (None, ["health"], "critical"),
    (3, ["special_category"], "critical"),
    (2, [], "high"),
    (None, ["personal"], "high"),
    (3, [], "medium"),
    (None, [], "medium"),
    (4, [], "low"),
    (5, ["card"], "high"),
])
def test_the_suggested_severity_rule(tier, data, expected):
    assert suggest_severity(LEVELS, tier, data) == expected


def test_a_two_level_plan_clamps_to_its_least_severe_level():
    assert suggest_severity(["major", "minor"], None, []) == "minor"


def test_declaring_without_a_plan_in_force_is_refused(lead):
    messages = refused(declare, lead)
    assert "No incident response plan is in force" in messages[0]
    assert not Incident.objects.exists()


def test_declaring_binds_the_plan_in_force_and_builds_the_checklist(published, lead, systems, commander):
    incident = declare(lead, affected_systems=[systems["Wiki"]], incident_commander=commander)
    assert incident.plan_version == published
    assert incident.declared_at == T0 and incident.status == "detection"
    assert incident.system_tier == 4
    assert (incident.suggested_severity, incident.severity) == ("low", "low")
    steps = list(incident.steps.values_list("order", "step_key", "required"))
    assert steps[0] == (1, "contain", True) and steps[-1] == (7, "record-breach", True)
    assert len(steps) == 7
    first = incident.timeline.get(seq=1)
    assert first.kind == "declared" and "plan version 1" in first.text and first.author_label == "alice@example.com"
    assert AuditEntry.objects.filter(action="incident.declared", object_id=str(incident.pk)).exists()


def test_an_affected_tier_1_system_raises_the_suggested_severity(published, lead, systems):
    incident = declare(lead, affected_systems=[systems["Wiki"], systems["ERP"]])
    assert (incident.system_tier, incident.suggested_severity, incident.severity) == (1, "critical", "critical")
    # Dropping the ERP lowers it again: the severity followed the suggestion, so it follows it.
    incident = actions.do_update_facts(acting_user=lead, incident=incident, affected_systems=[systems["CRM"]], now=T0)
    assert (incident.system_tier, incident.severity) == (2, "high")
    assert "Severity critical → high" in incident.timeline.filter(kind="severity").get().text


def test_a_severity_other_than_the_suggestion_needs_a_reason(published, lead, systems):
    messages = refused(declare, lead, severity="low", affected_systems=[systems["ERP"]])
    assert messages == ["The severity low differs from the suggested critical: say why."]
    incident = declare(lead, severity="low", severity_reason="The ERP copy was a test instance with fake data.",
                       affected_systems=[systems["ERP"]])
    assert (incident.severity, incident.suggested_severity) == ("low", "critical")
    # A chosen severity stays as the facts change, with its reason.
    incident = actions.do_update_facts(acting_user=lead, incident=incident, data_involved=["personal"], now=T0)
    assert incident.severity == "low" and incident.severity_reason.startswith("The ERP copy")
    assert refused(actions.do_update_facts, acting_user=lead, incident=incident, severity="medium",
                   severity_reason="  ", now=T0) == ["The severity medium differs from the suggested critical: say why."]


def test_bad_declarations_are_refused_with_every_problem(published, lead):
    messages = refused(declare, lead, type_key="meteor", detected_at=T0 + timedelta(hours=1), title=" ",
                       data_involved=["gossip"], facts={"moon_phase": "full", "ransom_paid": "yes", "severity": "low"},
                       clocks={"awareness": T0 + timedelta(days=1), "lunch": T0})
    assert "A title is required." in messages
    assert any(m.startswith("The detection time is in the future") for m in messages)
    assert any(m.startswith("'meteor' is not an incident type of the plan in force") for m in messages)
    assert any(m.startswith("Unknown kinds of data involved: gossip") for m in messages)
    assert any(m.startswith("Unknown fact 'moon_phase'") for m in messages)
    assert "ransom_paid is true or false, not 'yes'." in messages
    assert any("'severity' comes from the incident itself" in m for m in messages)
    assert any(m.startswith("The clock 'awareness' is in the future") for m in messages)
    assert any(m.startswith("Unknown clock 'lunch'") for m in messages)
    assert not Incident.objects.exists() and not TimelineEntry.objects.exists()


def test_personal_data_of_eu_residents_makes_the_gdpr_notification_due_in_72_hours(published, lead):
    incident = declare(lead, facts={"personal_data": True, "jurisdictions": ["DE"]}, clocks={"awareness": T0})
    due = notifications(incident)
    authority = due[("gdpr-33-authority", "Lead data protection supervisory authority")]
    assert authority.status == "due" and authority.deadline == T0 + timedelta(hours=72)
    assert ("gdpr-33-authority", "Legal (General Counsel)") in due
    assert "Notifications by the plan" in incident.timeline.filter(kind="notification").get().text


def test_liability_flagged_makes_general_counsel_and_ceo_due_at_once(published, lead):
    incident = declare(lead)
    assert not incident.notifications.filter(rule_key="internal-liability").exists()
    later = T0 + timedelta(hours=5)
    incident = actions.do_update_facts(acting_user=lead, incident=incident,
                                       facts={"corporate_liability_possible": True}, now=later)
    assert incident.clocks["liability_flagged"] == "2026-03-02T14:00:00.000000+00:00"
    due = notifications(incident)
    assert {label for rule, label in due if rule == "internal-liability"} == {"Legal (General Counsel)", "Chief executive"}
    assert all(n.deadline == later + timedelta(hours=1) for (rule, _), n in due.items() if rule == "internal-liability")


def test_changing_facts_keeps_what_was_recorded_and_follows_the_rules(published, lead, commander):
    incident = declare(lead, facts={"personal_data": True, "jurisdictions": ["FR"]}, clocks={"awareness": T0})
    authority = incident.notifications.get(rule_key="gdpr-33-authority", recipient_key__startswith="external:")
    actions.do_record_notification(acting_user=lead, notification=authority, notified_by=commander,
                                   notified_whom="CNIL, online form, ref 2026-118", notified_at=T0 + timedelta(hours=3),
                                   channel="portal", what_was_said="Phase 1 notification: 1,200 customers' emails.",
                                   now=T0 + timedelta(hours=4))
    # The people are no longer thought to be in the EEA: the rule stops applying.
    incident = actions.do_update_facts(acting_user=lead, incident=incident, facts={"jurisdictions": ["US"]},
                                       now=T0 + timedelta(hours=5))
    rows = {n.recipient_key: n for n in incident.notifications.filter(rule_key="gdpr-33-authority")}
    done = rows["external:Lead data protection supervisory authority"]
    assert done.status == "done" and done.notified_whom.startswith("CNIL")  # recorded: untouched
    assert rows["role:legal"].status == "not_required"
    assert rows["role:legal"].not_required_reason == "The rule no longer applies to the incident's facts."
    # Recording a notification for a rule that does not apply is refused.
    assert refused(actions.do_record_notification, acting_user=lead, notification=rows["role:legal"],
                   notified_by=commander, notified_whom="Gina", notified_at=T0, channel="phone",
                   what_was_said="x") == ["The rule 'GDPR art. 33: notify the supervisory authority' no longer "
                                          "applies to this incident; there is nothing to record."]
    # They were in Germany after all: it applies again, with its deadline.
    incident = actions.do_update_facts(acting_user=lead, incident=incident, facts={"jurisdictions": ["DE"]},
                                       now=T0 + timedelta(hours=6))
    legal = incident.notifications.get(rule_key="gdpr-33-authority", recipient_key="role:legal")
    assert legal.status == "due" and legal.deadline == T0 + timedelta(hours=72)
    assert incident.notifications.get(pk=done.pk).status == "done"


def test_a_notification_recorded_needs_who_whom_when_how_and_what(published, lead):
    incident = declare(lead, facts={"personal_data": True, "jurisdictions": ["DE"]}, clocks={"awareness": T0})
    row = incident.notifications.first()
    assert row is not None
    messages = refused(actions.do_record_notification, acting_user=lead, notification=row, notified_by=None,
                       notified_whom="", notified_at=T0 + timedelta(days=3), channel="pigeon", what_was_said="",
                       now=T0)
    assert messages == ["Say who notified them.", "Say whom exactly was notified (name, office, reference).",
                        "Unknown channel 'pigeon' (the channels are: email, phone, portal, letter, in_person, "
                        "secure_message, filing, press_release).", "Say what they were told.",
                        "The time of the notification is in the future (2026-03-05T09:00:00.000000+00:00); "
                        "record what has happened."]
    assert refused(actions.do_notification_not_required, acting_user=lead, notification=row, reason="nah", now=T0)
    actions.do_notification_not_required(acting_user=lead, notification=row, now=T0,
                                         reason="Legal assessed the data as encrypted with keys not exposed (art. 34(3)(a)).")
    assert NotificationDue.objects.get(pk=row.pk).status == NotificationStatus.NOT_REQUIRED


def test_status_moves_by_the_transition_map_only(published, lead):
    incident = declare(lead)
    assert refused(actions.do_change_status, acting_user=lead, incident=incident, status="recovery", now=T0) == [
        "An incident in detection cannot move to recovery (allowed next: closed, triage)."]
    review.do_waive_review(acting_user=lead, incident=incident, now=T0,
                           reason="A drill of the transition map: there is nothing to learn from it.")
    for status in ("triage", "containment", "eradication", "recovery", "closed"):
        incident = actions.do_change_status(acting_user=lead, incident=incident, status=status, now=T0)
    assert incident.status == "closed" and incident.closed_at == T0
    assert refused(actions.do_change_status, acting_user=lead, incident=incident, status="triage", now=T0) == [
        "An incident in closed cannot move to triage (allowed next: none: it is closed)."]
    assert refused(actions.do_update_facts, acting_user=lead, incident=incident, facts={"ransom_paid": True}, now=T0)
    texts = list(incident.timeline.filter(kind="status").values_list("text", flat=True))
    assert texts[0] == "Status Detection → Triage." and texts[-1] == "Status Recovery → Closed."


def test_closing_needs_the_law_enforcement_decision_when_a_crime_is_suspected(published, lead, commander):
    incident = declare(lead, type_key="ransomware", facts={"ransom_demanded": True})
    assert incident.law_enforcement_required()
    assert incident.notifications.filter(rule_key="law-enforcement").exists()
    for status in ("triage", "containment", "eradication", "recovery"):
        incident = actions.do_change_status(acting_user=lead, incident=incident, status=status, now=T0)
    messages = refused(actions.do_change_status, acting_user=lead, incident=incident, status="closed", now=T0)
    assert messages[0].startswith("A crime is suspected or a ransom was demanded: record the law-enforcement decision")
    assert Incident.objects.get(pk=incident.pk).status == "recovery"  # nothing half-saved
    assert refused(actions.do_record_law_enforcement_decision, acting_user=lead, incident=incident,
                   decision="reported", rationale="short", contact="", decided_by=commander, decided_at=T0, now=T0) == [
        "Give the reasons for the decision (at least 40 characters).", "Name the law-enforcement contact and reference."]
    actions.do_record_law_enforcement_decision(
        acting_user=lead, incident=incident, decision="reported", contact="NCA, case 44-2026", decided_by=commander,
        rationale="Extortion is a crime; reporting supports the insurer's claim and sanctions screening.",
        decided_at=T0, now=T0)
    review.do_waive_review(acting_user=lead, incident=incident, now=T0,
                           reason="Reviewed jointly with the insurer's forensic team; their report stands as ours.")
    incident = actions.do_change_status(acting_user=lead, incident=incident, status="closed", now=T0)
    assert incident.status == "closed"


def test_a_skipped_required_step_needs_the_full_explanation(published, lead):
    boss = person("Dana", "Decider")
    incident = declare(lead, type_key="business_email_compromise")
    messages = refused(actions.do_skip_step, acting_user=lead, incident=incident, step_key="recall-payment", now=T0)
    assert messages == ["Skipping the required step 'Recall any payment at once' is a deviation from the plan: "
                        "give the full explanation, who decided and when."]
    assert refused(actions.do_skip_step, acting_user=lead, incident=incident, step_key="recall-payment", now=T0,
                   deviation=DeviationReason("No money moved.", None, None)) == [
        "Explain fully why the plan was not appropriate, what was done instead and the risk accepted "
        "(at least 40 characters).", "Say who decided.", "The time of the decision needs a date and time with its time zone."]
    # Nothing was saved by the refusals.
    assert ChecklistStep.objects.get(incident=incident, step_key="recall-payment").state == StepState.PENDING
    assert not Deviation.objects.exists() and not incident.timeline.filter(kind__in=["step", "deviation"]).exists()

    actions.do_skip_step(acting_user=lead, incident=incident, step_key="recall-payment", now=T0,
                         deviation=DeviationReason("No payment was made: the fraudulent invoice was caught by "
                                                   "accounts payable before release.", boss, T0 - timedelta(minutes=5)))
    deviation = Deviation.objects.get()
    assert (deviation.kind, deviation.step.step_key, deviation.decided_by) == ("skipped", "recall-payment", boss)
    assert "Deviation — step 1 'Recall any payment at once' skipped, decided by Dana Decider" in \
        incident.timeline.get(kind="deviation").text


def test_out_of_order_and_done_differently_are_deviations_and_optional_skips_are_not(published, lead):
    boss = person("Dana", "Decider")
    incident = declare(lead, type_key="business_email_compromise")
    # Step 3 before step 2: out of order.
    messages = refused(actions.do_complete_step, acting_user=lead, incident=incident, step_key="search-mail", now=T0)
    assert messages[0].startswith("Doing 'Find other victims and messages' before 'Recall any payment at once', "
                                  "'Secure the mailbox' is a deviation")
    actions.do_complete_step(acting_user=lead, incident=incident, step_key="search-mail", now=T0,
                             deviation=DeviationReason("Other mailboxes were receiving the same lure right now; finding "
                                                       "them first stopped more victims.", boss, T0))
    actions.do_deviate(acting_user=lead, incident=incident, step_key="recall-payment", now=T0,
                       deviation=DeviationReason(WHY, boss, T0))
    actions.do_complete_step(acting_user=lead, incident=incident, step_key="secure-mailbox", now=T0)
    actions.do_skip_step(acting_user=lead, incident=incident, step_key="payment-controls", note="Already in place.",
                         now=T0)
    kinds = sorted(Deviation.objects.values_list("kind", flat=True))
    assert kinds == ["done_differently", "out_of_order"]
    states = dict(incident.steps.values_list("step_key", "state"))
    assert states["recall-payment"] == "done_differently" and states["payment-controls"] == "skipped"
    assert refused(actions.do_complete_step, acting_user=lead, incident=incident, step_key="search-mail", now=T0) == [
        "The step 'Find other victims and messages' is already done."]


def test_the_timeline_is_hash_chained_and_an_altered_entry_is_found(published, lead):
    incident = declare(lead, facts={"personal_data": True, "jurisdictions": ["DE"]}, clocks={"awareness": T0})
    entry = actions.do_add_timeline_entry(acting_user=lead, incident=incident, text="Recipient confirmed deletion.",
                                          event_at=T0 - timedelta(minutes=30), evidence=("reply.eml", b"I deleted it."),
                                          now=T0)
    assert entry.evidence_sha256 == hashlib.sha256(b"I deleted it.").hexdigest() and entry.evidence_size == 13
    actions.do_add_timeline_entry(acting_user=lead, incident=incident, text="Called the recipient again.", now=T0)
    result = timeline.verify(incident)
    assert result.ok and result.checked == 4 and result.head == incident.timeline.order_by("-seq").first().hash

    # Someone gets past the database's guard and edits an entry: the chain names it.
    lift_timeline_guard()
    TimelineEntry.objects.filter(incident=incident, seq=3).update(text="Recipient never replied.")
    result = timeline.verify(incident)
    assert (result.ok, result.seq, result.problem) == (False, 3, "entry #3 was altered after it was written")

    # Evidence swapped under its hash.
    TimelineEntry.objects.filter(incident=incident, seq=3).update(text="Recipient confirmed deletion.",
                                                                  evidence=b"something else")
    result = timeline.verify(incident)
    assert (result.ok, result.seq) == (False, 3) and "evidence" in result.problem


def test_a_removed_entry_is_found(published, lead):
    incident = declare(lead)
    for n in range(3):
        actions.do_add_timeline_entry(acting_user=lead, incident=incident, text=f"Note {n}", now=T0)
    lift_timeline_guard()
    TimelineEntry.objects.filter(incident=incident, seq=2).delete()
    result = timeline.verify(incident)
    assert (result.ok, result.seq) == (False, 2) and result.problem == "entry #2 is missing (next entry found is #3)"


def test_timeline_bad_input_is_refused(published, lead):
    incident = declare(lead)
    big = b"x" * (MAX_EVIDENCE_BYTES + 1)
    messages = refused(actions.do_add_timeline_entry, acting_user=lead, incident=incident, text=" ",
                       event_at=T0 + timedelta(hours=1), evidence=("dump.bin", big), now=T0)
    assert messages[0] == "Say what happened."
    assert messages[1].startswith("The event time is in the future")
    assert messages[2] == f"The evidence file is {len(big):,} bytes; at most {MAX_EVIDENCE_BYTES:,} are allowed."
    assert incident.timeline.count() == 1


def test_a_new_type_replaces_the_untouched_playbook_steps(published, lead):
    incident = declare(lead, type_key="account_compromise")
    actions.do_complete_step(acting_user=lead, incident=incident, step_key="disable", now=T0)
    incident = actions.do_update_facts(acting_user=lead, incident=incident, type_key="business_email_compromise", now=T0)
    steps = list(incident.steps.values_list("order", "step_key", "state"))
    assert steps[0] == (1, "disable", "done")  # what was done stays on the record
    assert [key for _, key, _ in steps[1:]] == ["recall-payment", "secure-mailbox", "search-mail", "warn-partners",
                                                "report-police", "payment-controls"]
    assert "type account_compromise → business_email_compromise" in incident.timeline.get(kind="facts").text
    assert AuditEntry.objects.filter(action="incident.updated", object_id=str(incident.pk)).count() == 1
