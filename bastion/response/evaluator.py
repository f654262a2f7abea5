"""The notification matrix evaluated: an incident's facts and clock times in, the notifications
due out. Pure Python over a plan version's content (see content.py); no database, no clock of
its own, so the incidents issue can call it whenever an incident's facts change and the tests can
write out worked examples.

Deadlines are computed here and nowhere else:

- ``hours`` and ``days`` are elapsed time (72 hours from a Friday 10:00 is Monday 10:00);
- ``months`` are calendar months, clamped to the month's last day (31 January + 1 month =
  28 February), counted in UTC, or in the time zone of the deadline's calendar if it names one,
  so the deadline does not depend on the offset the clock time was given in;
- ``business_days`` count the days after the start, in the calendar's time zone, that are
  neither a Saturday, a Sunday nor one of the calendar's holidays; the deadline keeps the
  start's local time of day (SEC: determined Thursday 15:00 New York time, four business days
  later is Wednesday 15:00, or Thursday if Wednesday is a listed holiday);
- ``no_later_than`` is a second bound; the earlier of the two applies (DORA: 4 h after
  classification as major, but at most 24 h after awareness). While the rule's own clock has
  not started but the bound's has, the bound is the deadline (the 24 h run from awareness even
  before the incident is classified).

A rule whose clocks have not started yet (no time for them) is reported as ``pending``, with
what it waits for, rather than due.

Jurisdictions: a rule naming "EU" (or "EEA") applies to an incident in any member state
(content.JURISDICTION_GROUPS). Clock times must fall between 1970 and 2100.
"""

import calendar as month_calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .content import (
    CHANNELS,
    CLOCKS,
    FACTS,
    OP_WORDS,
    UNITS,
    fact_value_problem,
    jurisdictions_covered,
    severity_order,
)

# Clock times outside these years are a typing mistake (and year 9999 plus a month overflows).
EARLIEST_CLOCK = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_CLOCK = datetime(2100, 12, 31, 23, 59, 59, tzinfo=UTC)


class EvaluationError(ValueError):
    """Facts or clocks that cannot be evaluated; ``messages`` says each problem."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("; ".join(messages))


@dataclass(frozen=True)
class NotificationDue:
    """One recipient a rule says must be notified, and by when (None while pending)."""

    rule: str
    rule_name: str
    recipient: dict
    status: str  # "due" (deadline known) or "pending" (waiting for a clock to start)
    deadline: datetime | None
    reason: str
    channel: str
    message: str
    clock: str
    source: str = ""
    bound: str = field(default="")  # which bound set the deadline: "" (the rule's) or "no_later_than"

    @property
    def recipient_label(self) -> str:
        return recipient_label(self.recipient)


def recipient_label(recipient: dict) -> str:
    kind = recipient.get("kind")
    if kind == "role":
        return recipient.get("name") or recipient.get("role", "")
    if kind == "person":
        return recipient.get("name") or f"person {recipient.get('person')}"
    return recipient.get("name", "")


def check_inputs(content: dict, facts: dict, clocks: dict) -> None:
    """Raise EvaluationError naming each unknown fact or clock and each value of the wrong kind."""
    problems = []
    severities = severity_order(content)
    types = {t["key"] for t in content.get("incident_types", [])}
    for name, value in facts.items():
        if name not in FACTS:
            problems.append(f"Unknown fact {name!r} (the facts are: {', '.join(FACTS)}).")
        elif value is not None:
            problem = fact_value_problem(name, value, severities, types)
            if problem:
                problems.append(problem)
    for name, value in clocks.items():
        if name not in CLOCKS:
            problems.append(f"Unknown clock {name!r} (the clocks are: {', '.join(CLOCKS)}).")
        elif value is not None and (not isinstance(value, datetime) or value.tzinfo is None
                                    or value.utcoffset() is None):
            problems.append(f"The clock {name!r} needs a date and time with its time zone.")
        elif value is not None and not EARLIEST_CLOCK <= value <= LATEST_CLOCK:
            problems.append(f"The clock {name!r} is {value.isoformat()}: clock times must fall between "
                            "1970 and 2100.")
    if problems:
        raise EvaluationError(problems)


def evaluate(content: dict, facts: dict[str, Any], clocks: dict[str, datetime | None]) -> list[NotificationDue]:
    """The notifications the plan calls for given the incident's facts (FACTS; a fact absent or
    None is not known yet, so a condition on it does not hold) and clock times (CLOCKS; absent or
    None = not started). One entry per rule and recipient: due ones first by deadline, then
    pending ones in the plan's order. Raises EvaluationError for an unknown fact or clock."""
    check_inputs(content, facts, clocks)
    roles = {r["key"]: r for r in content.get("roles", [])}
    calendars = {c["key"]: c for c in content.get("calendars", []) if isinstance(c.get("key"), str)}
    severities = severity_order(content)
    found: list[tuple[int, NotificationDue]] = []
    for order, rule in enumerate(content.get("rules", [])):
        if not rule.get("enabled", True):
            continue
        because = applies(rule.get("when", {}), facts, severities)
        if because is None:
            continue
        deadline, bound, timing = rule_deadline(rule["deadline"], clocks, calendars)
        reason = f"Applies because {because}. {timing}"
        for recipient in rule["recipients"]:
            found.append((order, NotificationDue(
                rule=rule["key"], rule_name=rule["name"], recipient=_recipient(recipient, roles),
                status="pending" if deadline is None else "due", deadline=deadline, reason=reason,
                channel=rule["channel"], message=rule.get("message", ""), clock=rule["deadline"]["clock"],
                source=rule.get("description", ""), bound=bound)))
    found.sort(key=lambda item: (item[1].deadline is None,
                                 item[1].deadline or datetime.max.replace(tzinfo=UTC), item[0]))
    return [due for _, due in found]


def _recipient(recipient: dict, roles: dict[str, dict]) -> dict:
    if recipient["kind"] == "role":
        role = roles.get(recipient["role"], {})
        return {"kind": "role", "role": recipient["role"], "name": role.get("name", recipient["role"]),
                "people": [h["person"] for h in role.get("holders", [])]}
    return dict(recipient)


# --- conditions -----------------------------------------------------------------------------

def applies(when: dict, facts: dict[str, Any], severities: list[str]) -> str | None:
    """Why the rule applies (its conditions in words, joined), or None if it does not."""
    held = []
    for condition in when.get("all", []):
        if not holds(condition, facts, severities):
            return None
        held.append(describe(condition))
    alternatives = when.get("any", [])
    if alternatives:
        met = [describe(c) for c in alternatives if holds(c, facts, severities)]
        if not met:
            return None
        held.append(" or ".join(met))
    return " and ".join(held) if held else "it applies to every incident"


def holds(condition: dict, facts: dict[str, Any], severities: list[str]) -> bool:
    name, op, expected = condition["fact"], condition["op"], condition["value"]
    actual = facts.get(name)
    if actual is None:
        return False  # not known yet
    kind = FACTS[name].kind
    if kind == "severity":
        if op == "is":
            return actual == expected
        return severities.index(actual) <= severities.index(expected)  # most severe first
    if kind == "incident_type":
        return actual in expected
    if kind == "codes":
        return bool(set(actual) & jurisdictions_covered(expected))
    if kind == "regulated_data":
        return bool(set(actual) & set(expected))
    if op == "at_least":
        return actual >= expected
    if op == "at_most":
        return actual <= expected
    return actual == expected


def describe(condition: dict) -> str:
    """A condition in words: "severity at least high", "personal_data is true"."""
    value = condition["value"]
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list):
        text = ", ".join(map(str, value))
    else:
        text = str(value)
    return f"{condition['fact']} {OP_WORDS.get(condition['op'], condition['op'])} {text}"


# --- deadlines ------------------------------------------------------------------------------

def rule_deadline(deadline: dict, clocks: dict[str, datetime | None],
                  calendars: dict[str, dict]) -> tuple[datetime | None, str, str]:
    """(deadline or None while pending, which bound set it, the timing in words)."""
    primary = _bound(deadline, clocks, calendars)
    words = period_words(deadline)
    note = f" ({deadline['note']})" if deadline.get("note") else ""
    second = deadline.get("no_later_than")
    if primary is None:
        latest = _bound(second, clocks, calendars) if second else None
        if second and latest is not None:
            # The rule's own clock has not started, but the bound's has and is running.
            return latest, "no_later_than", (
                f"Due no later than {period_words(second)} ({_when(latest)}): that clock has started, "
                f"while {CLOCKS[deadline['clock']]} has not; once it does, due {words} if that comes first{note}.")
        text = f"Pending: waits for {CLOCKS[deadline['clock']]}; then due {words}{note}."
        if second:
            text += f" In any case no later than {period_words(second)}."
        return None, "", text
    text = f"Due {words} ({_when(primary)}){note}."
    if not second:
        return primary, "", text
    latest = _bound(second, clocks, calendars)
    if latest is None:
        return primary, "", text + f" No later than {period_words(second)}, once that clock starts."
    if latest < primary:
        return latest, "no_later_than", (f"Due {words} ({_when(primary)}), but no later than "
                                         f"{period_words(second)} ({_when(latest)}), which comes first{note}.")
    return primary, "", text + f" No later than {period_words(second)} ({_when(latest)})."


def _bound(deadline: dict, clocks: dict[str, datetime | None], calendars: dict[str, dict]) -> datetime | None:
    start = clocks.get(deadline["clock"])
    if start is None:
        return None
    name = deadline.get("calendar")
    calendar = calendars.get(name) if isinstance(name, str) else None
    return add_period(start, deadline["amount"], deadline["unit"], calendar)


def period_words(deadline: dict) -> str:
    amount, unit = deadline["amount"], deadline["unit"]
    unit_text = UNITS[unit] if amount != 1 else UNITS[unit].removesuffix("s")
    calendar = f" ({deadline['calendar']} calendar)" if unit == "business_days" else ""
    return f"{amount} {unit_text}{calendar} from {CLOCKS[deadline['clock']]}"


def _when(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return f"{utc:%a} {utc.day} {utc:%b %Y %H:%M} UTC"


def add_period(start: datetime, amount: int, unit: str, calendar: dict | None = None) -> datetime:
    """``start`` + ``amount`` ``unit`` (hours, days, months, or business days in ``calendar``)."""
    if unit == "hours":
        return start + timedelta(hours=amount)
    if unit == "days":
        return start + timedelta(days=amount)
    if unit == "months":
        # Counted in the calendar's zone (UTC without one): the same instant given with another
        # offset must give the same deadline.
        zone = ZoneInfo(calendar.get("time_zone") or "UTC") if calendar else UTC
        return add_months(start.astimezone(zone), amount).astimezone(UTC)
    if unit == "business_days":
        if calendar is None:
            raise ValueError("Business days need a calendar.")
        holidays = {date.fromisoformat(d) for d in calendar.get("holidays", [])}
        return add_business_days(start, amount, holidays, ZoneInfo(calendar.get("time_zone") or "UTC"))
    raise ValueError(f"Unknown unit {unit!r}")


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` later, or the month's last day if it is shorter."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, month_calendar.monthrange(year, month)[1]))


def is_business_day(day: date, holidays: set[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_business_days(start: datetime, days: int, holidays: set[date], zone: ZoneInfo) -> datetime:
    """The moment ``days`` business days after ``start``: counted by local date in ``zone``
    (weekends and ``holidays`` skipped), at the start's local time of day, returned in UTC."""
    local = start.astimezone(zone)
    day = local.date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_business_day(day, holidays):
            counted += 1
    return datetime.combine(day, local.time(), tzinfo=zone).astimezone(UTC)


def channel_label(channel: str) -> str:
    return CHANNELS.get(channel, channel)
