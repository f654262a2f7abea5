"""The rule evaluator against worked examples, one or more per starter rule, written out so that
a reader can check each deadline by hand with a calendar."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bastion.response.evaluator import (
    EvaluationError,
    add_business_days,
    add_months,
    evaluate,
)
from bastion.response.starter import starter_content

NEW_YORK = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def plan() -> dict:
    return starter_content()


def due(plan, facts, clocks, rule=None) -> list:
    found = evaluate(plan, facts, clocks)
    return [n for n in found if rule is None or n.rule == rule]


def deadlines(found) -> dict[str, datetime | None]:
    return {n.recipient_label: n.deadline for n in found}


# --- GDPR art. 33 and 34 ---------------------------------------------------------------------

def test_gdpr_authority_72_hours_from_awareness_across_a_weekend(plan):
    # Aware on Friday 6 November 2026 at 10:00 UTC: 72 hours later is Monday 9 November 10:00;
    # the weekend does not stop the clock.
    found = due(plan, {"personal_data": True, "jurisdictions": ["DE", "EU"]},
                {"awareness": utc(2026, 11, 6, 10)}, "gdpr-33-authority")
    assert deadlines(found) == {"Lead data protection supervisory authority": utc(2026, 11, 9, 10),
                                "Legal (General Counsel)": utc(2026, 11, 9, 10)}
    assert {n.status for n in found} == {"due"}
    assert found[0].channel == "portal"
    assert "art. 33" in found[0].source
    assert found[0].reason == ("Applies because personal_data is true and jurisdictions include any of EEA. "
                               "Due 72 hours from awareness (the organisation became aware) (Mon 9 Nov 2026 10:00 UTC).")


def test_gdpr_does_not_apply_outside_the_eu_or_without_personal_data(plan):
    clocks = {"awareness": utc(2026, 11, 6, 10)}
    assert due(plan, {"personal_data": True, "jurisdictions": ["US"]}, clocks, "gdpr-33-authority") == []
    assert due(plan, {"personal_data": False, "jurisdictions": ["EU"]}, clocks, "gdpr-33-authority") == []
    # A fact not known yet is not assumed: no rule on it applies.
    assert due(plan, {"jurisdictions": ["EU"]}, clocks, "gdpr-33-authority") == []
    assert due(plan, {"personal_data": None, "jurisdictions": ["EU"]}, clocks, "gdpr-33-authority") == []


def test_gdpr_is_pending_until_the_organisation_is_aware(plan):
    found = due(plan, {"personal_data": True, "jurisdictions": ["EU"]}, {"detection": utc(2026, 11, 6, 9)},
                "gdpr-33-authority")
    assert [n.status for n in found] == ["pending", "pending"]
    assert found[0].deadline is None
    assert "Pending: waits for awareness (the organisation became aware); then due 72 hours" in found[0].reason


def test_gdpr_data_subjects_told_only_when_the_risk_is_high(plan):
    facts = {"personal_data": True, "jurisdictions": ["EU"], "high_risk_to_individuals": False}
    clocks = {"awareness": utc(2026, 3, 2, 8)}
    assert due(plan, facts, clocks, "gdpr-34-individuals") == []
    found = due(plan, {**facts, "high_risk_to_individuals": True}, clocks, "gdpr-34-individuals")
    assert deadlines(found) == {"The people whose data is affected": utc(2026, 3, 5, 8),
                                "Communications": utc(2026, 3, 5, 8)}
    assert "without undue delay; 72 hours is our own target" in found[0].reason


# --- SEC Form 8-K item 1.05 ------------------------------------------------------------------

def test_sec_four_business_days_from_a_thursday_is_the_next_wednesday(plan):
    # Determined material on Thursday 1 October 2026, 15:00 in New York: Friday 2 (1), Monday 5
    # (2), Tuesday 6 (3), Wednesday 7 October (4), at 15:00 New York time (19:00 UTC, EDT).
    determined = datetime(2026, 10, 1, 15, tzinfo=NEW_YORK)
    found = due(plan, {"materiality_determined": True}, {"materiality_determination": determined}, "sec-8k-105")
    assert [n.deadline for n in found] == [utc(2026, 10, 7, 19)] * 2
    assert found[0].deadline.astimezone(NEW_YORK).strftime("%A %-d %B %H:%M") == "Wednesday 7 October 15:00"
    assert found[0].recipient_label == "U.S. Securities and Exchange Commission (Form 8-K via EDGAR)"
    assert "4 business days (US calendar) from the materiality determination" in found[0].reason


def test_sec_deadline_moves_past_a_listed_holiday(plan):
    # Thursday 5 November 2026: Friday 6 (1), Monday 9 (2), Tuesday 10 (3), Wednesday 11 is
    # Veterans Day (a listed holiday), so Thursday 12 November (4); 16:00 New York = 21:00 UTC (EST).
    determined = datetime(2026, 11, 5, 16, tzinfo=NEW_YORK)
    found = due(plan, {"materiality_determined": True}, {"materiality_determination": determined}, "sec-8k-105")
    assert found[0].deadline == utc(2026, 11, 12, 21)
    # Take the holiday off the calendar (the calendar is the plan's, editable): Wednesday again.
    calendar = plan["calendars"][0]
    calendar["holidays"].remove("2026-11-11")
    found = due(plan, {"materiality_determined": True}, {"materiality_determination": determined}, "sec-8k-105")
    assert found[0].deadline == utc(2026, 11, 11, 21)


def test_sec_business_days_count_by_the_calendars_local_date(plan):
    # 23:30 on Thursday in New York is already Friday in UTC; the days count from Thursday.
    determined = datetime(2026, 10, 1, 23, 30, tzinfo=NEW_YORK)
    found = due(plan, {"materiality_determined": True}, {"materiality_determination": determined}, "sec-8k-105")
    assert found[0].deadline.astimezone(NEW_YORK) == datetime(2026, 10, 7, 23, 30, tzinfo=NEW_YORK)


def test_sec_does_not_apply_before_materiality_is_determined(plan):
    assert due(plan, {"materiality_determined": False, "severity": "critical"},
               {"declaration": utc(2026, 10, 1, 12)}, "sec-8k-105") == []


# --- DORA --------------------------------------------------------------------------------------

DORA = {"classified_major": True}


def test_dora_initial_is_4_hours_after_classification(plan):
    clocks = {"awareness": utc(2026, 11, 2, 8), "major_classification": utc(2026, 11, 2, 12)}
    found = due(plan, DORA, clocks)
    by_rule = {n.rule: n for n in found}
    assert by_rule["dora-initial"].deadline == utc(2026, 11, 2, 16)  # 24 h after awareness would be later
    assert by_rule["dora-initial"].bound == ""
    assert by_rule["dora-intermediate"].deadline == utc(2026, 11, 5, 12)
    assert by_rule["dora-final"].deadline == utc(2026, 12, 2, 12)


def test_dora_initial_no_later_than_24_hours_after_awareness(plan):
    # Classified 22 hours after awareness: 4 hours later would be 26 hours after awareness, so the
    # 24-hour bound applies.
    clocks = {"awareness": utc(2026, 11, 2, 8), "major_classification": utc(2026, 11, 3, 6)}
    initial = due(plan, DORA, clocks, "dora-initial")[0]
    assert initial.deadline == utc(2026, 11, 3, 8)
    assert initial.bound == "no_later_than"
    assert ("Due 4 hours from classification as major (Tue 3 Nov 2026 10:00 UTC), but no later than 24 hours "
            "from awareness (the organisation became aware) (Tue 3 Nov 2026 08:00 UTC), which comes first.") in initial.reason


def test_dora_before_classification_is_due_by_the_24_hour_bound(plan):
    # Classified major, aware Monday 2 November 08:00 UTC, the classification's time not yet
    # recorded: the 24 hours from awareness run all the same, so the initial notification is
    # due by Tuesday 08:00, set by the bound.
    initial = due(plan, DORA, {"awareness": utc(2026, 11, 2, 8)}, "dora-initial")[0]
    assert (initial.status, initial.deadline, initial.bound) == ("due", utc(2026, 11, 3, 8), "no_later_than")
    assert ("Due no later than 24 hours from awareness (the organisation became aware) (Tue 3 Nov 2026 08:00 UTC): "
            "that clock has started, while classification as major has not; once it does, due 4 hours from "
            "classification as major if that comes first.") in initial.reason
    # Neither clock started: pending, and it says what it waits for.
    waiting = due(plan, DORA, {}, "dora-initial")[0]
    assert (waiting.status, waiting.deadline, waiting.bound) == ("pending", None, "")
    assert "waits for classification as major" in waiting.reason
    assert "In any case no later than 24 hours from awareness (the organisation became aware)." in waiting.reason


def test_dora_does_not_apply_to_an_incident_not_classified_major(plan):
    clocks = {"awareness": utc(2026, 11, 2, 8), "major_classification": utc(2026, 11, 2, 12)}
    assert [n for n in due(plan, {"classified_major": False}, clocks) if n.rule.startswith("dora")] == []


# --- NIS2 art. 23 --------------------------------------------------------------------------

def test_nis2_early_warning_notification_and_final_report(plan):
    # Aware on 30 January 2026 at 09:00 UTC: early warning by 31 January 09:00, notification by
    # 2 February 09:00, final report a month later: 30 February does not exist, so 28 February.
    found = due(plan, {"significant_incident": True, "jurisdictions": ["FR", "EU"]}, {"awareness": utc(2026, 1, 30, 9)})
    by_rule = {n.rule: n.deadline for n in found if n.rule.startswith("nis2")}
    assert by_rule == {"nis2-early-warning": utc(2026, 1, 31, 9), "nis2-notification": utc(2026, 2, 2, 9),
                       "nis2-final-report": utc(2026, 2, 28, 9)}


def test_nis2_not_for_an_incident_that_is_not_significant(plan):
    found = due(plan, {"significant_incident": False, "jurisdictions": ["EU"]}, {"awareness": utc(2026, 1, 30, 9)})
    assert not [n for n in found if n.rule.startswith("nis2")]


# --- HIPAA ---------------------------------------------------------------------------------------

def test_hipaa_individuals_within_60_days_and_hhs_from_500_people(plan):
    facts = {"regulated_data": ["health"], "jurisdictions": ["US"], "individuals_affected": 499}
    clocks = {"awareness": utc(2026, 11, 2, 14)}
    found = due(plan, facts, clocks)
    assert {n.rule for n in found} == {"hipaa-individuals"}
    assert found[0].deadline == utc(2027, 1, 1, 14)  # 60 calendar days after 2 November
    found = due(plan, {**facts, "individuals_affected": 500}, clocks)
    assert deadlines([n for n in found if n.rule == "hipaa-hhs-500"]) == {
        "U.S. Department of Health and Human Services (OCR breach portal)": utc(2027, 1, 1, 14),
        "Prominent media outlets in the affected states": utc(2027, 1, 1, 14)}


def test_hipaa_not_without_health_data(plan):
    found = due(plan, {"regulated_data": ["card"], "jurisdictions": ["US"]}, {"awareness": utc(2026, 11, 2, 14)})
    assert not [n for n in found if n.rule.startswith("hipaa")]


# --- internal escalation -----------------------------------------------------------------------

def test_general_counsel_and_ceo_within_the_hour_once_liability_is_possible(plan):
    roles = {r["key"]: r for r in plan["roles"]}
    roles["legal"]["holders"] = [{"person": 7, "deputy": 8}]
    roles["ceo"]["holders"] = [{"person": 3, "deputy": None}]
    found = due(plan, {"corporate_liability_possible": True}, {"liability_flagged": utc(2026, 11, 2, 14, 20)},
                "internal-liability")
    assert [(n.recipient["role"], n.recipient["people"], n.deadline) for n in found] == [
        ("legal", [7], utc(2026, 11, 2, 15, 20)), ("ceo", [3], utc(2026, 11, 2, 15, 20))]
    assert found[0].channel == "phone"
    assert due(plan, {"corporate_liability_possible": False}, {"liability_flagged": utc(2026, 11, 2, 14)},
               "internal-liability") == []


def test_executive_sponsor_for_high_and_critical_only(plan):
    clocks = {"declaration": utc(2026, 11, 2, 9)}
    assert deadlines(due(plan, {"severity": "critical"}, clocks, "internal-executive")) == {
        "Executive sponsor": utc(2026, 11, 2, 11), "Communications": utc(2026, 11, 2, 11)}
    assert len(due(plan, {"severity": "high"}, clocks, "internal-executive")) == 2
    assert due(plan, {"severity": "medium"}, clocks, "internal-executive") == []


def test_board_for_a_critical_or_a_material_incident(plan):
    # Declared Monday 2 November 09:00 UTC; determined material on Wednesday 4 November 15:00.
    clocks = {"declaration": utc(2026, 11, 2, 9), "materiality_determination": utc(2026, 11, 4, 15)}
    critical = due(plan, {"severity": "critical"}, clocks, "internal-board")
    assert [n.deadline for n in critical] == [utc(2026, 11, 3, 9)]
    assert critical[0].reason.startswith("Applies because severity at least critical.")
    assert due(plan, {"severity": "critical"}, clocks, "internal-board-material") == []
    # A material incident counts from the determination, not from the declaration two days before.
    material = due(plan, {"severity": "medium", "materiality_determined": True}, clocks)
    board = [n for n in material if n.rule.startswith("internal-board")]
    assert [(n.rule, n.deadline) for n in board] == [("internal-board-material", utc(2026, 11, 5, 15))]
    assert board[0].reason.startswith("Applies because materiality_determined is true.")
    assert "24 hours from the materiality determination" in board[0].reason
    # Determined material but its time not recorded yet: pending, not counted from declaration.
    pending = due(plan, {"materiality_determined": True}, {"declaration": utc(2026, 11, 2, 9)},
                  "internal-board-material")
    assert [(n.status, n.deadline) for n in pending] == [("pending", None)]
    assert due(plan, {"severity": "high", "materiality_determined": False}, clocks, "internal-board") == []
    assert due(plan, {"severity": "high", "materiality_determined": False}, clocks, "internal-board-material") == []


def test_law_enforcement_considered_for_a_crime_or_a_ransom_demand(plan):
    clocks = {"declaration": utc(2026, 11, 2, 9)}
    for facts in ({"ransom_demanded": True}, {"criminal_activity_suspected": True}):
        found = due(plan, facts, clocks, "law-enforcement")
        assert [n.deadline for n in found] == [utc(2026, 11, 3, 9)]
        assert "record the decision" in found[0].source
    assert due(plan, {"ransom_demanded": False}, clocks, "law-enforcement") == []


def test_ransom_paid_and_insurer(plan):
    # Declared Monday 2 November 09:00 UTC; the ransom paid on Friday 6 November 14:00: Legal,
    # the executive sponsor and the insurer are told by Saturday 14:00, 24 hours after the
    # payment (counting from the declaration would have put the deadline before the payment).
    clocks = {"declaration": utc(2026, 11, 2, 9), "ransom_payment": utc(2026, 11, 6, 14)}
    paid = due(plan, {"ransom_paid": True}, clocks, "ransom-paid")
    assert deadlines(paid) == {"Legal (General Counsel)": utc(2026, 11, 7, 14), "Executive sponsor": utc(2026, 11, 7, 14),
                               "Cyber insurance carrier": utc(2026, 11, 7, 14)}
    insurer = next(n for n in paid if n.recipient_label == "Cyber insurance carrier")
    assert insurer.recipient == {"kind": "external", "name": "Cyber insurance carrier",
                                 "contact": "Fill in: the policy's claims hotline"}
    assert "counted from the payment itself" in insurer.reason
    # Paid, but the payment's time not recorded yet: pending until it is.
    waiting = due(plan, {"ransom_paid": True}, {"declaration": utc(2026, 11, 2, 9)}, "ransom-paid")
    assert {n.status for n in waiting} == {"pending"} and "waits for the payment of a ransom" in waiting[0].reason
    assert due(plan, {"ransom_paid": False}, clocks, "ransom-paid") == []
    assert [n.deadline for n in due(plan, {"severity": "high"}, clocks, "cyber-insurer")] == [utc(2026, 11, 3, 9)]
    assert due(plan, {"severity": "low"}, clocks, "cyber-insurer") == []


# --- the evaluator in general --------------------------------------------------------------------

def test_a_ransomware_incident_in_full_sorted_by_deadline_with_pending_last(plan):
    facts = {"severity": "critical", "incident_type": "ransomware", "personal_data": True, "jurisdictions": ["EU"],
             "ransom_demanded": True, "corporate_liability_possible": True, "classified_major": True}
    clocks = {"detection": utc(2026, 11, 6, 7), "awareness": utc(2026, 11, 6, 9), "declaration": utc(2026, 11, 6, 9, 30),
              "liability_flagged": utc(2026, 11, 6, 11)}
    found = evaluate(plan, facts, clocks)
    due_ones = [n for n in found if n.status == "due"]
    assert [n.deadline for n in due_ones] == sorted(n.deadline for n in due_ones)
    assert found.index(due_ones[-1]) < min(found.index(n) for n in found if n.status == "pending")
    assert [(n.rule, n.recipient_label) for n in due_ones[:4]] == [
        ("internal-executive", "Executive sponsor"), ("internal-executive", "Communications"),
        ("internal-liability", "Legal (General Counsel)"), ("internal-liability", "Chief executive")]
    # DORA's initial notification is due by its 24 hours from awareness even before classification.
    assert {n.rule for n in found if n.status == "pending"} == {"dora-intermediate", "dora-final"}
    assert next(n for n in found if n.rule == "dora-initial").deadline == utc(2026, 11, 7, 9)


def test_a_rule_switched_off_is_not_evaluated(plan):
    for rule in plan["rules"]:
        if rule["key"] == "sec-8k-105":
            rule["enabled"] = False
    assert due(plan, {"materiality_determined": True}, {"materiality_determination": utc(2026, 10, 1, 12)},
               "sec-8k-105") == []


def test_an_edited_clock_changes_the_deadline(plan):
    rule = next(r for r in plan["rules"] if r["key"] == "gdpr-33-authority")
    rule["deadline"] = {"clock": "detection", "amount": 48, "unit": "hours"}
    found = due(plan, {"personal_data": True, "jurisdictions": ["EU"]},
                {"detection": utc(2026, 11, 6, 10), "awareness": utc(2026, 11, 7, 10)}, "gdpr-33-authority")
    assert found[0].deadline == utc(2026, 11, 8, 10)


def test_unknown_facts_clocks_and_wrong_values_are_named(plan):
    with pytest.raises(EvaluationError) as error:
        evaluate(plan, {"personal_data": "yes", "color": "red", "severity": "apocalyptic",
                        "incident_type": "alien_invasion", "regulated_data": ["gossip"]},
                 {"awareness": datetime(2026, 11, 6, 10), "lunch": utc(2026, 11, 6, 12)})
    messages = error.value.messages
    assert "personal_data is true or false, not 'yes'." in messages
    assert any(m.startswith("Unknown fact 'color' (the facts are: severity, incident_type, personal_data") for m in messages)
    assert "'apocalyptic' is not one of the plan's severity levels (critical, high, medium, low)." in messages
    assert any(m.startswith("not incident types of the plan: alien_invasion") for m in messages)
    assert any(m.startswith("unknown kinds of regulated data: gossip") for m in messages)
    assert "The clock 'awareness' needs a date and time with its time zone." in messages
    assert any(m.startswith("Unknown clock 'lunch' (the clocks are: detection, awareness,") for m in messages)


def test_no_facts_no_notifications(plan):
    assert evaluate(plan, {}, {}) == []


# --- date arithmetic ---------------------------------------------------------------------------

@pytest.mark.parametrize(("start", "days", "expected"), [
    ("2026-11-06", 1, "2026-11-09"),  # Friday + 1 = Monday
    ("2026-11-07", 1, "2026-11-09"),  # from a Saturday, Monday is the first business day after
    ("2026-11-16", 5, "2026-11-23"),  # a whole week
    ("2026-11-09", 5, "2026-11-17"),  # a week with a holiday in it
    ("2026-11-10", 1, "2026-11-12"),  # Tuesday + 1 skips Wednesday's holiday
    ("2026-12-24", 1, "2026-12-28"),  # Christmas Friday, then the weekend
    ("2026-11-06", 0, "2026-11-06"),
])
def test_business_days_skip_weekends_and_holidays(start, days, expected):
    holidays = {date(2026, 11, 11), date(2026, 12, 25)}
    begin = datetime.combine(date.fromisoformat(start), datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    result = add_business_days(begin, days, holidays, ZoneInfo("UTC"))
    assert result == datetime.combine(date.fromisoformat(expected), datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)


@pytest.mark.parametrize(("start", "months", "expected"), [
    (utc(2026, 1, 31, 9), 1, utc(2026, 2, 28, 9)),
    (utc(2028, 1, 31, 9), 1, utc(2028, 2, 29, 9)),  # leap year
    (utc(2026, 11, 15, 9), 2, utc(2027, 1, 15, 9)),
    (utc(2026, 11, 2, 9), 12, utc(2027, 11, 2, 9)),
])
def test_months_are_calendar_months(start, months, expected):
    assert add_months(start, months) == expected


# --- findings of the security review ----------------------------------------------------------

@pytest.mark.parametrize(("jurisdictions", "gdpr", "nis2"), [
    (["DE"], True, True),          # a member state is in the EU and the EEA
    (["FR", "US"], True, True),
    (["GR"], True, True),
    (["NO"], True, False),         # Norway: EEA (GDPR applies), not EU (NIS2 as an EU directive does not)
    (["EU"], True, True),          # recorded as "somewhere in the EU"
    (["US"], False, False),
    (["CH", "GB"], False, False),  # neither in the EU nor the EEA
])
def test_eu_rules_apply_to_incidents_in_member_states(plan, jurisdictions, gdpr, nis2):
    facts = {"personal_data": True, "significant_incident": True, "jurisdictions": jurisdictions}
    rules = {n.rule for n in evaluate(plan, facts, {"awareness": utc(2026, 11, 6, 10)})}
    assert ("gdpr-33-authority" in rules) is gdpr
    assert ("nis2-early-warning" in rules) is nis2
    if gdpr:
        [authority] = [n for n in due(plan, facts, {"awareness": utc(2026, 11, 6, 10)}, "gdpr-33-authority")
                       if n.recipient["kind"] == "external"]
        assert authority.deadline == utc(2026, 11, 9, 10)


def test_every_combination_of_facts_evaluates_without_error():
    """The starter plan, the demo's next draft (with a UK calendar) and a plan whose deadlines
    name calendars for every unit, over many combinations of facts and clocks: no crash."""
    import itertools
    import random

    from bastion.demo.response import UK_HOLIDAYS
    from bastion.response.content import CLOCKS, FACTS, REGULATED_DATA_KINDS, validate_content

    starter = starter_content()
    with_calendars = starter_content()
    with_calendars["calendars"].append({"key": "GB", "name": "England", "time_zone": "Europe/London",
                                        "holidays": UK_HOLIDAYS})
    for n, rule in enumerate(with_calendars["rules"]):
        rule["deadline"]["calendar"] = ("GB", "US")[n % 2]
        if "no_later_than" in rule["deadline"]:
            rule["deadline"]["no_later_than"]["calendar"] = "GB"
    plans = [starter, with_calendars]
    for content in plans:
        assert validate_content(content) == []
    rng = random.Random(7)
    values = {
        "severity": [None, "critical", "high", "medium", "low"],
        "incident_type": [None, *[t["key"] for t in starter["incident_types"]]],
        "jurisdictions": [None, [], ["DE"], ["US"], ["NO", "US"], ["EU"], ["GB"]],
        "regulated_data": [None, [], ["health"], list(REGULATED_DATA_KINDS)],
        "system_tier": [None, 1, 3],
        "individuals_affected": [None, 0, 499, 500, 10**9],
    }
    moments = [None, utc(1970, 1, 1), utc(2026, 1, 31, 23, 30), utc(2026, 12, 24, 22),
               datetime(2027, 3, 28, 0, 30, tzinfo=ZoneInfo("Europe/London")), utc(2100, 12, 1)]
    checked = 0
    for content in plans:
        for _ in range(400):
            facts = {name: rng.choice(values.get(name, [None, True, False])) for name in FACTS}
            clocks = {name: rng.choice(moments) for name in CLOCKS}
            for found in evaluate(content, facts, clocks):
                assert found.status in ("due", "pending")
                assert (found.deadline is None) == (found.status == "pending")
                checked += 1
        for truth in itertools.product([True, False], repeat=3):
            facts = dict(zip(["personal_data", "classified_major", "ransom_paid"], truth, strict=True))
            evaluate(content, {**facts, "jurisdictions": ["DE"]}, {name: moments[2] for name in CLOCKS})
    assert checked > 1000


def test_months_do_not_depend_on_the_offset_the_clock_was_given_in(plan):
    # Aware at 04:00 UTC on 31 January 2026, given as 23:00 the evening before in New York or
    # as 04:00 UTC: NIS2's final report is due one month later, 28 February 04:00 UTC, either way.
    same_moment = [utc(2026, 1, 31, 4), datetime(2026, 1, 30, 23, tzinfo=NEW_YORK),
                   datetime(2026, 1, 31, 17, tzinfo=ZoneInfo("Pacific/Auckland"))]
    facts = {"significant_incident": True, "jurisdictions": ["DE"]}
    found = {due(plan, facts, {"awareness": moment}, "nis2-final-report")[0].deadline for moment in same_moment}
    assert found == {utc(2026, 2, 28, 4)}


@pytest.mark.parametrize("moment", [datetime(9999, 12, 31, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC),
                                    utc(1969, 12, 31), utc(2101, 1, 1)])
def test_clock_times_outside_1970_to_2100_are_refused(plan, moment):
    with pytest.raises(EvaluationError) as error:
        evaluate(plan, {"significant_incident": True, "jurisdictions": ["EU"]}, {"awareness": moment})
    assert error.value.messages == [f"The clock 'awareness' is {moment.isoformat()}: clock times must fall "
                                    "between 1970 and 2100."]
