"""The plan's content: the starter plan is complete and valid, the hash is canonical, and bad
content is refused with a message that says where and what."""

import pytest

from bastion.response.content import REQUIRED_SECTIONS, content_hash, validate_content
from bastion.response.starter import starter_content


@pytest.fixture
def plan() -> dict:
    return starter_content()


def rule(plan, key) -> dict:
    return next(r for r in plan["rules"] if r["key"] == key)


def test_the_starter_plan_is_valid_and_complete(plan):
    assert validate_content(plan) == []
    assert {s["key"] for s in plan["sections"]} >= set(REQUIRED_SECTIONS)
    # Organised along NIST SP 800-61r3 / CSF 2.0.
    titles = " ".join(s["title"] for s in plan["sections"])
    for function in ("Govern", "Identify", "Protect", "Detect", "Respond", "Recover"):
        assert function in titles
    assert {r["key"] for r in plan["roles"]} >= {"incident_commander", "scribe", "liaison", "legal",
                                                 "communications", "executive_sponsor"}
    assert len(plan["incident_types"]) >= 5
    assert all(len(t["playbook"]) >= 5 for t in plan["incident_types"])
    rules = {r["key"] for r in plan["rules"]}
    assert rules >= {"gdpr-33-authority", "gdpr-34-individuals", "nis2-early-warning", "nis2-notification",
                     "nis2-final-report", "sec-8k-105", "hipaa-individuals", "dora-initial", "dora-intermediate",
                     "dora-final", "internal-liability", "internal-board", "law-enforcement"}
    # Each rule cites its source.
    assert all("Source:" in r["description"] for r in plan["rules"])


def test_the_hash_is_canonical(plan):
    reordered = {key: plan[key] for key in reversed(list(plan))}
    assert content_hash(reordered) == content_hash(plan)
    assert len(content_hash(plan)) == 64
    plan["sections"][0]["body"] += " "
    assert content_hash(plan) != content_hash(reordered | {"sections": starter_content()["sections"]})


def test_a_condition_on_an_unknown_fact(plan):
    rule(plan, "gdpr-33-authority")["when"]["all"].append({"fact": "moon_phase", "op": "is", "value": "full"})
    [problem] = validate_content(plan)
    assert problem.startswith("Rule gdpr-33-authority, condition all 3: unknown fact 'moon_phase' (the facts are: "
                              "severity, incident_type, personal_data,")


def test_a_deadline_without_a_clock_start(plan):
    del rule(plan, "nis2-early-warning")["deadline"]["clock"]
    rule(plan, "dora-initial")["deadline"]["no_later_than"]["clock"] = "teatime"
    assert validate_content(plan) == [
        "Rule nis2-early-warning: the deadline has no clock start (one of: detection, awareness, declaration, "
        "major_classification, materiality_determination, liability_flagged).",
        "Rule dora-initial, no later than: unknown clock 'teatime' (the clocks are: detection, awareness, "
        "declaration, major_classification, materiality_determination, liability_flagged).",
    ]


def test_a_cycle_of_deputies(plan):
    commander = plan["roles"][0]
    commander["holders"] = [{"person": 1, "deputy": 2}, {"person": 2, "deputy": 3}, {"person": 3, "deputy": 1}]
    [problem] = validate_content(plan, person_ids={1, 2, 3})
    assert problem == ("Role incident_commander: the deputies go round in a circle (person 1 → person 2 → person 3 "
                       "→ person 1): someone in a line of deputies must have no deputy, or a deputy who does not "
                       "hold the role.")
    commander["holders"] = [{"person": 1, "deputy": 1}]
    assert "the deputies go round in a circle (person 1 → person 1)" in validate_content(plan)[0]
    # A line that ends (the last deputy holds no entry of their own, or has no deputy) is fine.
    commander["holders"] = [{"person": 1, "deputy": 2}, {"person": 2, "deputy": 3}]
    assert validate_content(plan, person_ids={1, 2, 3}) == []


def test_people_must_exist_in_the_directory(plan):
    plan["roles"][0]["holders"] = [{"person": 1, "deputy": 99}]
    rule(plan, "internal-liability")["recipients"].append({"kind": "person", "person": "Bob"})
    assert validate_content(plan, person_ids={1}) == [
        "Role incident_commander, holder 1's deputy: no person with id 99 in the directory.",
        "Rule internal-liability, recipient 3: a person is given by their directory id, not 'Bob'.",
    ]


def test_references_between_parts_are_checked(plan):
    plan["incident_types"][0]["playbook"][0]["owner_role"] = "janitor"
    rule(plan, "internal-executive")["when"]["all"][0]["value"] = "catastrophic"
    rule(plan, "internal-liability")["recipients"][0] = {"kind": "role", "role": "astrologer"}
    rule(plan, "sec-8k-105")["deadline"]["calendar"] = "XX"
    rule(plan, "gdpr-33-authority")["when"]["all"][0]["op"] = "at_least"
    assert validate_content(plan) == [
        "Incident type ransomware, step 1: the owner role 'janitor' is not one of the plan's roles.",
        "Rule internal-liability, recipient 1: 'astrologer' is not one of the plan's roles.",
        "Rule internal-executive, condition all 1: 'catastrophic' is not one of the plan's severity levels "
        "(critical, high, medium, low).",
        "Rule gdpr-33-authority, condition all 1: personal_data takes the operator is, not 'at_least'.",
        "Rule sec-8k-105: business days need a calendar, one of the plan's: US.",
    ]


def test_missing_sections_duplicate_keys_and_bad_values(plan):
    plan["sections"] = [s for s in plan["sections"] if s["key"] != "deviation_policy"]
    plan["severities"].append(dict(plan["severities"][0]))
    plan["calendars"][0]["holidays"].append("2026-02-30")
    plan["calendars"][0]["time_zone"] = "Mars/Olympus"
    rule(plan, "hipaa-individuals")["deadline"]["amount"] = -1
    rule(plan, "hipaa-individuals")["channel"] = "carrier pigeon"
    rule(plan, "hipaa-individuals")["message"] = "Dear {customer_name}"
    problems = validate_content(plan)
    assert problems == [
        "Sections: the section 'Deviation policy' (key 'deviation_policy') is missing.",
        "Severity level 5: the key 'critical' is used twice.",
        "Calendar US: unknown time zone 'Mars/Olympus' (e.g. America/New_York).",
        "Calendar US: holiday '2026-02-30' is not a date (YYYY-MM-DD).",
        "Rule hipaa-individuals: the amount must be a whole number from 0 to 366.",
        "Rule hipaa-individuals: unknown channel 'carrier pigeon' (the channels are: email, phone, portal, letter, "
        "in_person, secure_message, filing, press_release).",
        "Rule hipaa-individuals: the message names {customer_name}, which is not known (it may use: {incident}, "
        "{severity}, {incident_type}, {deadline}, {summary}, {organisation}, {contact}).",
    ]


@pytest.mark.parametrize(("content", "problem"), [
    ([], "The plan's content must be a JSON object."),
    ({"title": "x", "sections": "none"}, "Sections: must be a list."),
    ({"title": "x", "extra": 1}, "Unknown part 'extra' (the parts are: calendars, incident_types, roles, rules, "
                                 "sections, severities, title)."),
])
def test_malformed_content(content, problem):
    assert problem in validate_content(content)
