"""The diff between two versions: what a reviewer needs to see changed, and nothing else."""

from bastion.response.diff import diff_content
from bastion.response.starter import starter_content


def part(result, name):
    return next(p for p in result.parts if p.part == name)


def test_identical_versions_have_an_empty_diff():
    result = diff_content(starter_content(), starter_content(), from_number=1, to_number=2)
    assert result.empty
    assert result.as_dict()["empty"] is True


def test_sections_are_line_diffs():
    old, new = starter_content(), starter_content()
    scope = next(s for s in new["sections"] if s["key"] == "scope")
    scope["body"] = scope["body"].replace("all employees", "all employees and board members")
    new["sections"].append({"key": "glossary", "title": "Glossary", "body": "IOC: indicator of compromise"})
    new["sections"] = [s for s in new["sections"] if s["key"] != "recover"]
    result = diff_content(old, new)
    changes = {s.key: s for s in result.sections}
    assert changes["scope"].change == "changed"
    assert "-It applies to all employees, contractors and temporary staff. Suppliers who run systems for us" in changes["scope"].lines
    assert "+It applies to all employees and board members, contractors and temporary staff. Suppliers who run systems for us" in changes["scope"].lines
    assert (changes["glossary"].change, changes["glossary"].lines[-1]) == ("added", "+IOC: indicator of compromise")
    assert changes["recover"].change == "removed"
    assert not result.section_order_changed


def test_structured_changes_field_by_field():
    old, new = starter_content(), starter_content()
    ransomware = new["incident_types"][0]
    ransomware["playbook"][0]["title"] = "Isolate affected machines from the network"
    ransomware["playbook"][1]["expected_minutes"] = 60
    ransomware["playbook"].append({"key": "lessons", "title": "Hold the lessons-learned review", "description": "",
                                   "owner_role": "incident_commander", "expected_minutes": None, "required": True})
    del ransomware["playbook"][2]
    gdpr = next(r for r in new["rules"] if r["key"] == "gdpr-33-authority")
    gdpr["deadline"]["amount"] = 48
    new["rules"] = [r for r in new["rules"] if r["key"] != "hipaa-hhs-500"]
    new["severities"][0], new["severities"][1] = new["severities"][1], new["severities"][0]
    new["roles"][0]["holders"] = [{"person": 4, "deputy": 5}]

    result = diff_content(old, new, from_number=1, to_number=2)
    assert not result.empty
    [role] = part(result, "roles").items
    assert (role.change, role.key, [(f.field, f.before, f.after) for f in role.fields]) == (
        "changed", "incident_commander", [("holders", [], [{"person": 4, "deputy": 5}])])

    [kind] = part(result, "incident_types").items
    assert (kind.change, kind.name, kind.fields) == ("changed", "Ransomware and destructive malware", [])
    steps = {s.key: s for s in kind.steps}
    assert [(f.field, f.before, f.after) for f in steps["isolate"].fields] == [
        ("title", "Isolate affected machines", "Isolate affected machines from the network")]
    assert [(f.field, f.before, f.after) for f in steps["stop-spread"].fields] == [("expected_minutes", 120, 60)]
    assert steps["lessons"].change == "added" and steps["protect-backups"].change == "removed"

    rules = {r.key: r for r in part(result, "rules").items}
    assert rules["hipaa-hhs-500"].change == "removed"
    [deadline] = rules["gdpr-33-authority"].fields
    assert (deadline.field, deadline.before["amount"], deadline.after["amount"]) == ("deadline", 72, 48)
    assert set(rules) == {"gdpr-33-authority", "hipaa-hhs-500"}

    # Reordering severities changes what "at least" means: shown as an order change.
    severities = part(result, "severities")
    assert severities.items == []
    assert severities.order_before == ["critical", "high", "medium", "low"]
    assert severities.order_after == ["high", "critical", "medium", "low"]
    assert part(result, "calendars").items == []
