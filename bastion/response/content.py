"""The incident response plan's content: one JSON document per version, its vocabulary, its
canonical hash and its validation. Plain Python, no database.

A version's content is a dict::

    {
      "title": "Incident response plan",
      "sections": [{"key", "title", "body" (Markdown)}],            # REQUIRED_SECTIONS among them
      "roles": [{"key", "name", "authority" (Markdown),
                 "holders": [{"person": <people.Person id>, "deputy": <Person id> | null}]}],
      "severities": [{"key", "name", "definition", "criteria": [str]}],   # most severe first
      "incident_types": [{"key", "name", "description",
                          "playbook": [{"key", "title", "description", "owner_role": <role key>,
                                        "expected_minutes": int | null, "required": bool}]}],
      "calendars": [{"key" (jurisdiction, e.g. "US"), "name", "time_zone", "holidays": ["YYYY-MM-DD"]}],
      # a deadline's "calendar" is a calendar's key (a string). It is required for business
      # days; for months it sets the time zone the months are counted in (UTC without one);
      # hours and days are elapsed time, whatever the calendar.
      "rules": [{"key", "name", "description" (cites its source), "enabled": bool,
                 "when": {"all": [condition], "any": [condition]},
                 "recipients": [{"kind": "role", "role": <role key>}
                                | {"kind": "person", "person": <Person id>}
                                | {"kind": "external", "name", "contact"}],
                 "deadline": {"clock", "amount", "unit", "calendar"?, "note"?,
                              "no_later_than"?: {"clock", "amount", "unit", "calendar"?}},
                 "channel", "message"}],
    }

A condition is ``{"fact": <FACTS key>, "op": <one of the fact's ops>, "value": ...}``. Every
condition in ``all`` must hold, and at least one in ``any`` when ``any`` is not empty.

Keys (of sections, roles, severities, types, steps, rules, calendars) are stable identifiers:
the diff between two versions matches things by key, and incidents will refer to them.

Only the fields above are accepted, at every level: a field nobody shows would still be hashed
and approved unseen. Numbers must be finite and text must not contain NUL (neither survives a
JSON column), and the content has a size limit (MAX_CONTENT_BYTES, MAX_ITEMS).

Jurisdictions are ISO 3166 country codes, plus two tokens: "EU" (any of the EU_MEMBER_STATES)
and "EEA" (the EU and Iceland, Liechtenstein and Norway, where the GDPR applies too). A rule
naming "EU" applies to an incident in "DE"; an incident recorded only as "EU" matches a rule
naming "EU" or "EEA" but not one naming a single country.
"""

import hashlib
import json
import math
import re
import string
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Sections every plan has (others may be added).
REQUIRED_SECTIONS = {
    "purpose": "Purpose",
    "scope": "Scope",
    "communication": "Communication guidance",
    "law_enforcement": "Law-enforcement guidance",
    "deviation_policy": "Deviation policy",
    "training": "Training requirements",
}


@dataclass(frozen=True)
class Fact:
    """A fact about an incident that a notification rule may test."""

    kind: str  # bool, severity, incident_type, codes, regulated_data, integer
    ops: tuple[str, ...]
    help: str


# The European Union's 27 member states (ISO 3166-1 alpha-2; Greece is "GR"), and the EEA
# (the EU plus Iceland, Liechtenstein and Norway). The one list of them.
EU_MEMBER_STATES = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
    "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
})
EEA_STATES = EU_MEMBER_STATES | {"IS", "LI", "NO"}
# What a jurisdiction token in a rule stands for, besides itself.
JURISDICTION_GROUPS: dict[str, frozenset[str]] = {
    "EU": EU_MEMBER_STATES,
    "EEA": EEA_STATES | {"EU"},
}


def jurisdictions_covered(codes: list[str]) -> set[str]:
    """The codes a rule's list of jurisdictions covers: each code, and for "EU" or "EEA" every
    member state (and "EU" for "EEA")."""
    covered = set(codes)
    for code in codes:
        covered |= JURISDICTION_GROUPS.get(code, frozenset())
    return covered


REGULATED_DATA_KINDS = ("personal", "special_category", "health", "card", "financial_reporting", "credentials")

# The fixed vocabulary of incident facts. An incident records these; a rule names them.
FACTS: dict[str, Fact] = {
    "severity": Fact("severity", ("at_least", "is"),
                     "The incident's severity, a key of the plan's severity levels (listed most severe first)"),
    "incident_type": Fact("incident_type", ("in",), "The incident's type, a key of the plan's incident types"),
    "personal_data": Fact("bool", ("is",), "Personal data is (or may be) involved"),
    "high_risk_to_individuals": Fact("bool", ("is",),
                                     "The breach is likely to result in a high risk to people's rights and freedoms"),
    "jurisdictions": Fact("codes", ("any_of",),
                          "Jurisdictions affected (ISO 3166 country codes; in a rule, EU stands for every EU member "
                          "state and EEA for the EU, Iceland, Liechtenstein and Norway)"),
    "corporate_liability_possible": Fact("bool", ("is",), "Corporate liability is possible"),
    "materiality_determined": Fact("bool", ("is",), "The incident has been determined to be material"),
    "classified_major": Fact("bool", ("is",), "Classified as a major ICT-related incident (DORA)"),
    "significant_incident": Fact("bool", ("is",), "A significant incident under NIS2 art. 23(3)"),
    "ransom_demanded": Fact("bool", ("is",), "A ransom or extortion demand was received"),
    "ransom_paid": Fact("bool", ("is",), "A ransom was paid"),
    "criminal_activity_suspected": Fact("bool", ("is",), "A crime is suspected (theft, fraud, extortion, sabotage)"),
    "regulated_data": Fact("regulated_data", ("any_of",),
                           "Kinds of regulated data involved: " + ", ".join(REGULATED_DATA_KINDS)),
    "system_tier": Fact("integer", ("at_most", "at_least"),
                        "The tier of the most critical affected system (1 = crown jewels)"),
    "individuals_affected": Fact("integer", ("at_least", "at_most"), "How many people's data is affected"),
}

OP_WORDS = {"at_least": "at least", "at_most": "at most", "is": "is", "in": "is one of", "any_of": "include any of"}

# The named moments a deadline counts from. An incident records when each happened.
CLOCKS: dict[str, str] = {
    "detection": "detection",
    "awareness": "awareness (the organisation became aware)",
    "declaration": "declaration of the incident",
    "major_classification": "classification as major",
    "materiality_determination": "the materiality determination",
    "liability_flagged": "corporate liability being flagged as possible",
    "ransom_payment": "the payment of a ransom",
}

UNITS = {"hours": "hours", "days": "calendar days", "business_days": "business days", "months": "months"}
CHANNELS = {"email": "email", "phone": "phone", "portal": "regulator's portal", "letter": "letter",
            "in_person": "in person", "secure_message": "secure message", "filing": "regulatory filing",
            "press_release": "press release"}
# What a rule's message may name in {braces}; incidents/notices.py fills them in from the incident:
# {incident} its reference (INC-12), {title}, {severity}, {incident_type} (the type's name),
# {summary} (what is known), {declared_at} and {deadline} (times with their zone), {link} (the
# incident's page). {organisation} and {contact} are left for the writer to fill in.
MESSAGE_PLACEHOLDERS = ("incident", "severity", "incident_type", "deadline", "summary", "organisation",
                        "contact", "title", "declared_at", "link")

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_AMOUNT = {"hours": 24 * 366, "days": 366, "business_days": 260, "months": 24}

# Size limits: the canonical JSON, and how many of each thing (a plan far past these is a
# mistake or an attack, and every page and the PDF render all of it).
MAX_CONTENT_BYTES = 1_000_000
MAX_ITEMS = {"sections": 100, "roles": 100, "severities": 20, "incident_types": 100, "calendars": 50,
             "rules": 200, "playbook": 200, "holders": 50, "holidays": 1000, "recipients": 50,
             "conditions": 50, "criteria": 50, "codes": 300}

# The fields each kind of item has (content is refused if an item has any other).
FIELDS = {
    "plan": {"title", "sections", "roles", "severities", "incident_types", "calendars", "rules"},
    "section": {"key", "title", "body"},
    "role": {"key", "name", "authority", "holders"},
    "holder": {"person", "deputy"},
    "severity": {"key", "name", "definition", "criteria"},
    "incident_type": {"key", "name", "description", "playbook"},
    "step": {"key", "title", "description", "owner_role", "expected_minutes", "required"},
    "calendar": {"key", "name", "time_zone", "holidays"},
    "rule": {"key", "name", "description", "enabled", "when", "recipients", "deadline", "channel", "message"},
    "when": {"all", "any"},
    "condition": {"fact", "op", "value"},
    "role_recipient": {"kind", "role"},
    "person_recipient": {"kind", "person"},
    "external_recipient": {"kind", "name", "contact"},
    "deadline": {"clock", "amount", "unit", "calendar", "note", "no_later_than"},
    "bound": {"clock", "amount", "unit", "calendar"},
}
HOLIDAY_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def canonical_json(content: Any) -> str:
    """The one serialisation that is hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(content: Any) -> str:
    """SHA-256 (hex) of the canonical JSON: what an approval records and is checked against."""
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def severity_order(content: dict) -> list[str]:
    return [s["key"] for s in content.get("severities", [])]


class ContentError(ValueError):
    """Content that does not validate; ``messages`` says every problem, in order."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("; ".join(messages))


def check_content(content: Any, *, person_ids: set[int] | None = None) -> None:
    """Raise ContentError with every problem of ``validate_content``, if any."""
    problems = validate_content(content, person_ids=person_ids)
    if problems:
        raise ContentError(problems)


def validate_content(content: Any, *, person_ids: set[int] | None = None) -> list[str]:
    """Every problem with the content, each a sentence naming where it is; [] if none.

    ``person_ids``: the directory ids that exist (None skips that check)."""
    v = _Validator(person_ids)
    v.run(content)
    return v.problems


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_name(value: Any, names: Any) -> bool:
    """``value`` is a string among ``names`` (a list or dict in the content would make ``in``
    raise TypeError against a set or dict)."""
    return isinstance(value, str) and value in names


def storage_problems(content: Any) -> list[str]:
    """What no JSON column stores, anywhere in the content: numbers that are not finite (NaN,
    Infinity), text or keys containing NUL, keys that are not text. Walked without recursion."""
    problems: list[str] = []
    stack: list[tuple[str, Any]] = [("the plan", content)]
    while stack and len(problems) < 10:
        where, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{where}: numbers must be finite (not NaN or Infinity).")
        elif isinstance(value, str) and "\x00" in value:
            problems.append(f"{where}: text must not contain the NUL character (\\u0000).")
        elif isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str) or "\x00" in key:
                    problems.append(f"{where}: field names must be text without the NUL character.")
                    continue
                stack.append((f"{where} › {key}", item))
        elif isinstance(value, list):
            stack.extend((f"{where} › item {n}", item) for n, item in enumerate(value, 1))
    return problems


class _Validator:
    def __init__(self, person_ids: set[int] | None) -> None:
        self.person_ids = person_ids
        self.problems: list[str] = []

    def add(self, where: str, problem: str) -> None:
        self.problems.append(f"{where}: {problem}" if where else problem)

    def _list(self, content: dict, name: str, label: str, kind: str | None = None, item: str = "",
              by_key: bool = True) -> list:
        value = content.get(name, [])
        if not isinstance(value, list):
            self.add(label, "must be a list.")
            return []
        if not self._count(label, value, name):
            return []
        bad = [i for i, item in enumerate(value, 1) if not isinstance(item, dict)]
        if bad:
            self.add(label, f"item {bad[0]} is not an object.")
            return []
        if kind is not None:  # named as the other problems name the item: "Rule gdpr-33", "…, step 2"
            for i, entry in enumerate(value, 1):
                self._fields(f"{item} {(by_key and entry.get('key')) or i}", entry, kind)
        return value

    def _count(self, label: str, items: list, limit_name: str) -> bool:
        """False (and a problem) if there are more items than MAX_ITEMS allows."""
        limit = MAX_ITEMS.get(limit_name)
        if limit is not None and len(items) > limit:
            self.add(label, f"there are {len(items)}; at most {limit} are allowed.")
            return False
        return True

    def _fields(self, where: str, item: dict, kind: str) -> None:
        unknown = sorted(str(k) for k in set(item) - FIELDS[kind])
        if unknown:
            self.add(where, f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                            f"(the fields are: {', '.join(sorted(FIELDS[kind]))}).")

    def _text(self, where: str, item: dict, name: str, *, required: bool = True, limit: int = 200) -> str:
        value = item.get(name, "")
        if not isinstance(value, str):
            self.add(where, f"{name} must be text.")
            return ""
        if required and not value.strip():
            self.add(where, f"{name} is required.")
        elif len(value) > limit:
            self.add(where, f"{name} is longer than {limit} characters.")
        return value

    def _keys(self, items: list[dict], label: str) -> set[str]:
        seen: set[str] = set()
        for i, item in enumerate(items, 1):
            key = item.get("key")
            if not isinstance(key, str) or not KEY_PATTERN.match(key):
                self.add(f"{label} {i}", f"key {key!r} must be 1–64 lower-case letters, digits, - or _, "
                                         "starting with a letter or digit.")
            elif key in seen:
                self.add(f"{label} {i}", f"the key {key!r} is used twice.")
            else:
                seen.add(key)
        return seen

    def _person(self, where: str, value: Any) -> None:
        if not _is_int(value):
            self.add(where, f"a person is given by their directory id, not {value!r}.")
        elif self.person_ids is not None and value not in self.person_ids:
            self.add(where, f"no person with id {value} in the directory.")

    def run(self, content: Any) -> None:
        if not isinstance(content, dict):
            self.add("", "The plan's content must be a JSON object.")
            return
        stored = storage_problems(content)
        if stored:
            self.problems.extend(stored)
            return
        try:
            size = len(canonical_json(content).encode())
        except (ValueError, TypeError, RecursionError):
            self.add("", "The plan's content is not plain JSON (or is nested too deeply).")
            return
        if size > MAX_CONTENT_BYTES:
            self.add("", f"The plan is too large ({size:,} bytes; at most {MAX_CONTENT_BYTES:,} are allowed).")
            return
        known = FIELDS["plan"]
        for name in sorted(str(k) for k in set(content) - known):
            self.add("", f"Unknown part {name!r} (the parts are: {', '.join(sorted(known))}).")
        self._text("Plan", content, "title")
        self.sections(self._list(content, "sections", "Sections", "section", "Section"))
        roles = self.roles(self._list(content, "roles", "Roles", "role", "Role"))
        severities = self.severities(self._list(content, "severities", "Severity levels", "severity", "Severity level"))
        types = self.incident_types(self._list(content, "incident_types", "Incident types", "incident_type",
                                               "Incident type"), roles)
        calendars = self.calendars(self._list(content, "calendars", "Calendars", "calendar", "Calendar"))
        self.rules(self._list(content, "rules", "Notification rules", "rule", "Rule"), roles, severities, types,
                   calendars)

    def sections(self, sections: list[dict]) -> None:
        keys = self._keys(sections, "Section")
        for i, section in enumerate(sections, 1):
            where = f"Section {section.get('key') or i}"
            self._text(where, section, "title")
            self._text(where, section, "body", required=False, limit=100_000)
        for key, title in REQUIRED_SECTIONS.items():
            if key not in keys:
                self.add("Sections", f"the section {title!r} (key {key!r}) is missing.")

    def roles(self, roles: list[dict]) -> set[str]:
        keys = self._keys(roles, "Role")
        for i, role in enumerate(roles, 1):
            where = f"Role {role.get('key') or i}"
            self._text(where, role, "name")
            self._text(where, role, "authority", required=False, limit=20_000)
            holders = role.get("holders", [])
            if not isinstance(holders, list) or not all(isinstance(h, dict) for h in holders):
                self.add(where, "holders must be a list of {person, deputy}.")
                continue
            if not self._count(f"{where}, holders", holders, "holders"):
                continue
            deputy_of: dict[int, int | None] = {}
            for n, holder in enumerate(holders, 1):
                self._fields(f"{where}, holder {n}", holder, "holder")
                self._person(f"{where}, holder {n}", holder.get("person"))
                deputy = holder.get("deputy")
                if deputy is not None:
                    self._person(f"{where}, holder {n}'s deputy", deputy)
                if _is_int(holder.get("person")):
                    if holder["person"] in deputy_of:
                        self.add(f"{where}, holder {n}", f"person {holder['person']} is listed twice.")
                    deputy_of[holder["person"]] = deputy if _is_int(deputy) else None
            cycle = deputy_cycle(deputy_of)
            if cycle:
                chain = " → ".join(f"person {p}" for p in [*cycle, cycle[0]])
                self.add(where, f"the deputies go round in a circle ({chain}): someone in a line of "
                                "deputies must have no deputy, or a deputy who does not hold the role.")
        return keys

    def severities(self, severities: list[dict]) -> list[str]:
        self._keys(severities, "Severity level")
        if not severities:
            self.add("Severity levels", "at least one is required.")
        for i, severity in enumerate(severities, 1):
            where = f"Severity level {severity.get('key') or i}"
            self._text(where, severity, "name")
            self._text(where, severity, "definition", limit=5000)
            criteria = severity.get("criteria", [])
            if not isinstance(criteria, list) or not all(isinstance(c, str) for c in criteria):
                self.add(where, "criteria must be a list of sentences.")
            elif self._count(f"{where}, criteria", criteria, "criteria"):
                if any(len(c) > 1000 for c in criteria):
                    self.add(where, "a criterion is longer than 1000 characters.")
        return [str(s.get("key")) for s in severities]

    def incident_types(self, types: list[dict], roles: set[str]) -> set[str]:
        keys = self._keys(types, "Incident type")
        for i, kind in enumerate(types, 1):
            where = f"Incident type {kind.get('key') or i}"
            self._text(where, kind, "name")
            self._text(where, kind, "description", required=False, limit=5000)
            steps = self._list(kind, "playbook", f"{where}, playbook", "step", f"{where}, step", by_key=False)
            self._keys(steps, f"{where}, step")
            for n, step in enumerate(steps, 1):
                at = f"{where}, step {n}"
                self._text(at, step, "title")
                self._text(at, step, "description", required=False, limit=10_000)
                if not _is_name(step.get("owner_role"), roles):
                    self.add(at, f"the owner role {step.get('owner_role')!r} is not one of the plan's roles.")
                minutes = step.get("expected_minutes")
                if minutes is not None and (not _is_int(minutes) or not 0 < minutes <= 60 * 24 * 365):
                    self.add(at, "expected_minutes must be a whole number of minutes above 0, or null.")
                if not isinstance(step.get("required", True), bool):
                    self.add(at, "required must be true or false.")
        return keys

    def calendars(self, calendars: list[dict]) -> set[str]:
        self._keys([{**c, "key": str(c.get("key", "")).lower()} for c in calendars], "Calendar")
        for i, calendar in enumerate(calendars, 1):
            where = f"Calendar {calendar.get('key') or i}"
            self._text(where, calendar, "name")
            zone = calendar.get("time_zone", "")
            try:
                if not isinstance(zone, str) or not zone:
                    raise ValueError
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                self.add(where, f"unknown time zone {zone!r} (e.g. America/New_York).")
            holidays = calendar.get("holidays", [])
            if not isinstance(holidays, list):
                self.add(where, "holidays must be a list of dates (YYYY-MM-DD).")
                continue
            if not self._count(f"{where}, holidays", holidays, "holidays"):
                continue
            for day in holidays:
                if not _is_holiday(day):
                    self.add(where, f"holiday {day!r} is not a date written as text YYYY-MM-DD (e.g. \"2026-12-25\").")
        return {c["key"] for c in calendars if isinstance(c.get("key"), str)}

    def rules(self, rules: list[dict], roles: set[str], severities: list[str], types: set[str],
              calendars: set[str]) -> None:
        self._keys(rules, "Rule")
        for i, rule in enumerate(rules, 1):
            where = f"Rule {rule.get('key') or i}"
            self._text(where, rule, "name")
            self._text(where, rule, "description", limit=5000)
            if not isinstance(rule.get("enabled", True), bool):
                self.add(where, "enabled must be true or false.")
            self.condition_block(where, rule.get("when"), severities, types)
            self.recipients(where, rule.get("recipients"), roles)
            self.deadline(where, rule.get("deadline"), calendars)
            if not _is_name(rule.get("channel"), CHANNELS):
                self.add(where, f"unknown channel {rule.get('channel')!r} (the channels are: {', '.join(CHANNELS)}).")
            message = self._text(where, rule, "message", limit=10_000)
            self.placeholders(where, message)

    def condition_block(self, where: str, when: Any, severities: list[str], types: set[str]) -> None:
        if not isinstance(when, dict) or set(when) - FIELDS["when"]:
            self.add(where, 'the condition must be {"all": [...], "any": [...]}.')
            return
        for part in ("all", "any"):
            conditions = when.get(part, [])
            if not isinstance(conditions, list):
                self.add(where, f"{part} must be a list of conditions.")
                continue
            if not self._count(f"{where}, {part}", conditions, "conditions"):
                continue
            for n, condition in enumerate(conditions, 1):
                self.condition(f"{where}, condition {part} {n}", condition, severities, types)

    def condition(self, where: str, condition: Any, severities: list[str], types: set[str]) -> None:
        if not isinstance(condition, dict):
            self.add(where, "a condition is {fact, op, value}.")
            return
        self._fields(where, condition, "condition")
        name = condition.get("fact")
        fact = FACTS.get(name) if isinstance(name, str) else None
        if fact is None:
            self.add(where, f"unknown fact {name!r} (the facts are: {', '.join(FACTS)}).")
            return
        op = condition.get("op")
        if not _is_name(op, fact.ops):
            self.add(where, f"{name} takes the operator {' or '.join(fact.ops)}, not {op!r}.")
        problem = fact_value_problem(str(name), condition.get("value"), severities, types, in_rule=True)
        if problem:
            self.add(where, problem)

    def recipients(self, where: str, recipients: Any, roles: set[str]) -> None:
        if not isinstance(recipients, list) or not recipients:
            self.add(where, "name at least one recipient.")
            return
        if not self._count(f"{where}, recipients", recipients, "recipients"):
            return
        for n, recipient in enumerate(recipients, 1):
            at = f"{where}, recipient {n}"
            kind = recipient.get("kind") if isinstance(recipient, dict) else None
            if isinstance(kind, str) and kind in ("role", "person", "external"):
                self._fields(at, recipient, f"{kind}_recipient")
            if kind == "role":
                if not _is_name(recipient.get("role"), roles):
                    self.add(at, f"{recipient.get('role')!r} is not one of the plan's roles.")
            elif kind == "person":
                self._person(at, recipient.get("person"))
            elif kind == "external":
                self._text(at, recipient, "name")
                self._text(at, recipient, "contact", required=False, limit=500)
            else:
                self.add(at, "a recipient is a plan role, a named person or an external body "
                             '(kind "role", "person" or "external").')

    def deadline(self, where: str, deadline: Any, calendars: set[str], bound: bool = False) -> None:
        label = f"{where}, no later than" if bound else where
        if not isinstance(deadline, dict):
            self.add(label, "the deadline is missing.")
            return
        self._fields(label, deadline, "bound" if bound else "deadline")
        clock = deadline.get("clock")
        if not clock:
            self.add(label, f"the deadline has no clock start (one of: {', '.join(CLOCKS)}).")
        elif not _is_name(clock, CLOCKS):
            self.add(label, f"unknown clock {clock!r} (the clocks are: {', '.join(CLOCKS)}).")
        unit = deadline.get("unit")
        if not _is_name(unit, UNITS):
            self.add(label, f"unknown unit {unit!r} (the units are: {', '.join(UNITS)}).")
        amount = deadline.get("amount")
        limit = MAX_AMOUNT.get(unit, max(MAX_AMOUNT.values())) if isinstance(unit, str) else max(MAX_AMOUNT.values())
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= limit:
            self.add(label, f"the amount must be a whole number from 0 to {limit}.")
        # A calendar is a calendar's key (text), whatever the unit; business days need one.
        calendar = deadline.get("calendar")
        known = f"one of the plan's: {', '.join(sorted(calendars)) or 'none yet'}"
        if unit == "business_days" and not _is_name(calendar, calendars):
            self.add(label, f"business days need a calendar, {known}.")
        elif "calendar" in deadline and not _is_name(calendar, calendars):
            self.add(label, f"the calendar {calendar!r} is not a calendar's key ({known}).")
        if "note" in deadline and not isinstance(deadline["note"], str):
            self.add(label, "the note must be text.")
        elif len(deadline.get("note") or "") > 1000:
            self.add(label, "the note is longer than 1000 characters.")
        if "no_later_than" in deadline:
            if bound:
                self.add(label, "a second bound cannot have a bound of its own.")
            else:
                self.deadline(where, deadline["no_later_than"], calendars, bound=True)

    def placeholders(self, where: str, message: str) -> None:
        try:
            names = [field for _, field, _, _ in string.Formatter().parse(message) if field is not None]
        except ValueError:
            self.add(where, "the message has an unmatched { or }; write {{ or }} for a brace.")
            return
        unknown = sorted({n for n in names if n not in MESSAGE_PLACEHOLDERS})
        if unknown:
            self.add(where, f"the message names {', '.join('{' + n + '}' for n in unknown)}, which is not known "
                            f"(it may use: {', '.join('{' + n + '}' for n in MESSAGE_PLACEHOLDERS)}).")


def _is_holiday(day: Any) -> bool:
    if not isinstance(day, str) or not HOLIDAY_PATTERN.match(day):
        return False
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    return True


def deputy_cycle(deputy_of: dict[int, int | None]) -> list[int] | None:
    """A loop in the line of deputies (person → their deputy, followed while the deputy holds the
    role too), as the people in it; None if every line ends."""
    for start in deputy_of:
        seen: list[int] = []
        person: int | None = start
        while person is not None and person in deputy_of:
            if person in seen:
                return seen[seen.index(person):]
            seen.append(person)
            person = deputy_of[person]
    return None


def fact_value_problem(name: str, value: Any, severities: list[str], types: set[str], *,
                       in_rule: bool = False) -> str | None:
    """What is wrong with ``value`` for the fact (in a rule's condition, or an incident's facts)."""
    kind = FACTS[name].kind
    if kind == "bool":
        return None if isinstance(value, bool) else f"{name} is true or false, not {value!r}."
    if kind == "integer":
        return None if _is_int(value) and value >= 0 else f"{name} is a whole number, not {value!r}."
    if kind == "severity":
        if value not in severities:
            return f"{value!r} is not one of the plan's severity levels ({', '.join(severities)})."
        return None
    values = value if isinstance(value, list) else None
    if kind == "incident_type" and not in_rule:
        values = [value] if isinstance(value, str) else None
    if values is None or not all(isinstance(v, str) for v in values):
        return f"{name} is a list of {'keys' if kind != 'codes' else 'codes'}, not {value!r}."
    if kind == "incident_type":
        unknown = [v for v in values if v not in types]
        if unknown:
            return f"not incident types of the plan: {', '.join(unknown)} (the types are: {', '.join(sorted(types))})."
    if kind == "regulated_data":
        unknown = [v for v in values if v not in REGULATED_DATA_KINDS]
        if unknown:
            return f"unknown kinds of regulated data: {', '.join(unknown)} (the kinds are: {', '.join(REGULATED_DATA_KINDS)})."
    if kind == "codes":
        if len(values) > MAX_ITEMS["codes"]:
            return f"{name} lists {len(values)} codes; at most {MAX_ITEMS['codes']} are allowed."
        bad = [v for v in values if not re.fullmatch(r"[A-Z]{2}", v) and v not in JURISDICTION_GROUPS]
        if bad:
            return f"jurisdictions are two-letter codes such as US or DE, or EU or EEA, not {', '.join(map(repr, bad))}."
    return None
