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
        "major_classification, materiality_determination, liability_flagged, ransom_payment).",
        "Rule dora-initial, no later than: unknown clock 'teatime' (the clocks are: detection, awareness, "
        "declaration, major_classification, materiality_determination, liability_flagged, ransom_payment).",
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
        "Calendar US: holiday '2026-02-30' is not a date written as text YYYY-MM-DD (e.g. \"2026-12-25\").",
        "Rule hipaa-individuals: the amount must be a whole number from 0 to 366.",
        "Rule hipaa-individuals: unknown channel 'carrier pigeon' (the channels are: email, phone, portal, letter, "
        "in_person, secure_message, filing, press_release).",
        "Rule hipaa-individuals: the message names {customer_name}, which is not known (it may use: {incident}, "
        "{severity}, {incident_type}, {deadline}, {summary}, {organisation}, {contact}, {title}, {declared_at}, "
        "{link}).",
    ]


@pytest.mark.parametrize(("content", "problem"), [
    ([], "The plan's content must be a JSON object."),
    ({"title": "x", "sections": "none"}, "Sections: must be a list."),
    ({"title": "x", "extra": 1}, "Unknown part 'extra' (the parts are: calendars, incident_types, roles, rules, "
                                 "sections, severities, title)."),
])
def test_malformed_content(content, problem):
    assert problem in validate_content(content)


# --- wrong types, unknown fields, what no JSON column stores, size (security review) -----------

@pytest.mark.parametrize(("change", "problem"), [
    (lambda p: p["incident_types"][0]["playbook"][0].update(owner_role=["legal"]),
     "Incident type ransomware, step 1: the owner role ['legal'] is not one of the plan's roles."),
    (lambda p: rule(p, "hipaa-individuals").update(channel={"email": 1}),
     "Rule hipaa-individuals: unknown channel {'email': 1}"),
    (lambda p: rule(p, "internal-liability")["recipients"].__setitem__(0, {"kind": "role", "role": ["legal"]}),
     "Rule internal-liability, recipient 1: ['legal'] is not one of the plan's roles."),
    (lambda p: rule(p, "gdpr-33-authority")["deadline"].update(clock=["awareness"]),
     "Rule gdpr-33-authority: unknown clock ['awareness']"),
    (lambda p: rule(p, "gdpr-33-authority")["deadline"].update(unit={"hours": 1}),
     "Rule gdpr-33-authority: unknown unit {'hours': 1}"),
    (lambda p: rule(p, "sec-8k-105")["deadline"].update(calendar=["US"]),
     "Rule sec-8k-105: business days need a calendar, one of the plan's: US."),
    (lambda p: rule(p, "gdpr-33-authority")["deadline"].update(calendar=["US"]),
     "Rule gdpr-33-authority: the calendar ['US'] is not a calendar's key (one of the plan's: US)."),
    (lambda p: rule(p, "gdpr-33-authority")["when"]["all"][0].update(op=["is"]),
     "Rule gdpr-33-authority, condition all 1: personal_data takes the operator is, not ['is']."),
    (lambda p: p["calendars"][0].update(time_zone=["UTC"]), "Calendar US: unknown time zone ['UTC']"),
])
def test_values_of_the_wrong_type_are_problems_not_crashes(plan, change, problem):
    change(plan)
    problems = validate_content(plan)
    assert len(problems) == 1 and problems[0].startswith(problem)


def test_a_calendar_is_a_key_and_holidays_are_text_dates(plan):
    plan["calendars"][0]["holidays"] += [20260101, "2026-1-1", "20260101"]
    rule(plan, "nis2-final-report")["deadline"]["calendar"] = "GB"  # not a calendar of the plan
    assert validate_content(plan) == [
        "Calendar US: holiday 20260101 is not a date written as text YYYY-MM-DD (e.g. \"2026-12-25\").",
        "Calendar US: holiday '2026-1-1' is not a date written as text YYYY-MM-DD (e.g. \"2026-12-25\").",
        "Calendar US: holiday '20260101' is not a date written as text YYYY-MM-DD (e.g. \"2026-12-25\").",
        "Rule nis2-final-report: the calendar 'GB' is not a calendar's key (one of the plan's: US).",
    ]
    # A calendar named by any deadline, whatever its unit, is fine (months count in its zone).
    plan["calendars"][0]["holidays"] = ["2026-12-25"]
    rule(plan, "nis2-final-report")["deadline"]["calendar"] = "US"
    assert validate_content(plan) == []


def test_unknown_fields_are_refused_at_every_level(plan):
    plan["sections"][0]["hidden"] = "x"
    plan["roles"][0]["holders"] = [{"person": 1, "deputy": None, "note": "x"}]
    plan["roles"][0]["x"] = 1
    plan["severities"][0]["colour"] = "red"
    plan["incident_types"][0]["owner"] = "x"
    plan["incident_types"][0]["playbook"][0]["secret"] = "x"
    plan["calendars"][0]["region"] = "x"
    rule(plan, "gdpr-33-authority")["when"]["all"][0]["why"] = "x"
    rule(plan, "gdpr-33-authority")["recipients"][1]["cc"] = "x"
    rule(plan, "gdpr-33-authority")["deadline"]["grace"] = 1
    rule(plan, "dora-initial")["deadline"]["no_later_than"]["note"] = "x"
    rule(plan, "sec-8k-105")["extra"] = True
    problems = validate_content(plan, person_ids={1})
    assert problems == [
        "Section purpose: unknown field 'hidden' (the fields are: body, key, title).",
        "Role incident_commander: unknown field 'x' (the fields are: authority, holders, key, name).",
        "Role incident_commander, holder 1: unknown field 'note' (the fields are: deputy, person).",
        "Severity level critical: unknown field 'colour' (the fields are: criteria, definition, key, name).",
        "Incident type ransomware: unknown field 'owner' (the fields are: description, key, name, playbook).",
        "Incident type ransomware, step 1: unknown field 'secret' (the fields are: description, "
        "expected_minutes, key, owner_role, required, title).",
        "Calendar US: unknown field 'region' (the fields are: holidays, key, name, time_zone).",
        "Rule sec-8k-105: unknown field 'extra' (the fields are: channel, deadline, description, "
        "enabled, key, message, name, recipients, when).",
        "Rule gdpr-33-authority, condition all 1: unknown field 'why' (the fields are: fact, op, value).",
        "Rule gdpr-33-authority, recipient 2: unknown field 'cc' (the fields are: kind, role).",
        "Rule gdpr-33-authority: unknown field 'grace' (the fields are: amount, calendar, clock, no_later_than, note, "
        "unit).",
        "Rule dora-initial, no later than: unknown field 'note' (the fields are: amount, calendar, clock, unit).",
    ]


@pytest.mark.parametrize(("change", "problem"), [
    (lambda p: p["incident_types"][0]["playbook"][0].update(expected_minutes=float("nan")),
     "the plan › incident_types › item 1 › playbook › item 1 › expected_minutes: numbers must be finite"),
    (lambda p: rule(p, "gdpr-33-authority")["deadline"].update(amount=float("inf")),
     "› deadline › amount: numbers must be finite (not NaN or Infinity)."),
    (lambda p: p["sections"][0].update(body="Before\x00after"),
     "the plan › sections › item 1 › body: text must not contain the NUL character (\\u0000)."),
    (lambda p: p["sections"][0].update({"ti\x00tle": "x"}),
     "the plan › sections › item 1: field names must be text without the NUL character."),
])
def test_what_no_json_column_stores_is_refused(plan, change, problem):
    change(plan)
    problems = validate_content(plan)
    assert len(problems) == 1 and problem in problems[0]


def test_the_size_is_limited(plan):
    plan["sections"] += [{"key": f"extra-{n}", "title": "More", "body": "y" * 99_000} for n in range(10)]
    [problem] = validate_content(plan)
    assert problem.startswith("The plan is too large (1,") and problem.endswith("bytes; at most 1,000,000 are allowed).")
    plan = starter_content()
    plan["rules"] = [dict(rule(plan, "gdpr-33-authority"), key=f"r{n}") for n in range(201)]
    plan["incident_types"][0]["playbook"] *= 30
    assert validate_content(plan) == [
        f"Incident type ransomware, playbook: there are {30 * len(starter_content()['incident_types'][0]['playbook'])}; "
        "at most 200 are allowed.",
        "Notification rules: there are 201; at most 200 are allowed.",
    ]


def test_jurisdiction_codes_include_eu_and_eea(plan):
    rule(plan, "gdpr-33-authority")["when"]["all"][1]["value"] = ["EEA", "CH"]
    assert validate_content(plan) == []
    rule(plan, "gdpr-33-authority")["when"]["all"][1]["value"] = ["Europe"]
    assert validate_content(plan) == [
        "Rule gdpr-33-authority, condition all 2: jurisdictions are two-letter codes such as US or DE, or EU or EEA, "
        "not 'Europe'."]
