"""A readable diff between two versions of the plan: sections as line diffs of their Markdown,
and the structured parts (roles, severity levels, incident types and their playbook steps,
calendars, notification rules) as items added, removed or changed field by field, matched by
their keys. Plain Python over the two contents; ``diff_versions`` takes two PlanVersions.
"""

import difflib
from dataclasses import asdict, dataclass, field
from typing import Any

from .content import canonical_json

# The structured parts, in the order a reader expects them, with the field that names an item.
PARTS = (("roles", "Roles", "name"), ("severities", "Severity levels", "name"),
         ("incident_types", "Incident types", "name"), ("calendars", "Calendars", "name"),
         ("rules", "Notification rules", "name"))


@dataclass
class FieldChange:
    field: str
    before: Any
    after: Any

    @property
    def before_text(self) -> str:
        return readable(self.before)

    @property
    def after_text(self) -> str:
        return readable(self.after)


def readable(value: Any) -> str:
    """A field's value as a reader would write it: lists comma-separated, mappings as
    "name: value" pairs, true/false as yes/no (not Python's notation)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(readable(v) for v in value) if any(isinstance(v, dict) for v in value) \
            else ", ".join(readable(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {readable(v)}" for k, v in value.items())
    return "" if value is None else str(value)


@dataclass
class ItemChange:
    """An item of a list (a role, a rule, a playbook step ...) added, removed or changed."""

    change: str  # "added", "removed", "changed"
    key: str
    name: str
    fields: list[FieldChange] = field(default_factory=list)
    steps: list["ItemChange"] = field(default_factory=list)  # an incident type's playbook


@dataclass
class SectionChange:
    change: str  # "added", "removed", "changed"
    key: str
    title: str
    lines: list[str] = field(default_factory=list)  # unified diff of the body, without headers
    title_before: str = ""


@dataclass
class PartDiff:
    part: str
    label: str
    items: list[ItemChange] = field(default_factory=list)
    order_before: list[str] | None = None  # set when the kept items changed order
    order_after: list[str] | None = None


@dataclass
class PlanDiff:
    from_number: int | None
    to_number: int | None
    title: FieldChange | None
    sections: list[SectionChange]
    parts: list[PartDiff]
    section_order_changed: bool = False

    @property
    def empty(self) -> bool:
        return (self.title is None and not self.sections and not self.section_order_changed
                and not any(p.items or p.order_before for p in self.parts))

    def as_dict(self) -> dict:
        return {**asdict(self), "empty": self.empty}


def diff_versions(old, new) -> PlanDiff:
    """The diff from PlanVersion ``old`` to PlanVersion ``new``."""
    return diff_content(old.content, new.content, from_number=old.number, to_number=new.number)


def diff_content(old: dict, new: dict, *, from_number: int | None = None, to_number: int | None = None) -> PlanDiff:
    title = None
    if old.get("title") != new.get("title"):
        title = FieldChange("title", old.get("title"), new.get("title"))
    sections, moved = _sections(old.get("sections", []), new.get("sections", []))
    parts = []
    for part, label, _ in PARTS:
        items, order = _items(old.get(part, []), new.get(part, []), nested="playbook" if part == "incident_types" else None)
        parts.append(PartDiff(part, label, items, *(order or (None, None))))
    return PlanDiff(from_number, to_number, title, sections, parts, moved)


def _by_key(items: list[dict]) -> dict[str, dict]:
    return {str(item.get("key")): item for item in items}


def _order(old: list[dict], new: list[dict]) -> tuple[list[str], list[str]] | None:
    new_keys = {str(i.get("key")) for i in new}
    old_keys = {str(i.get("key")) for i in old}
    kept_before = [str(i.get("key")) for i in old if str(i.get("key")) in new_keys]
    kept_after = [str(i.get("key")) for i in new if str(i.get("key")) in old_keys]
    return (kept_before, kept_after) if kept_before != kept_after else None


def _sections(old: list[dict], new: list[dict]) -> tuple[list[SectionChange], bool]:
    before, after = _by_key(old), _by_key(new)
    changes = []
    for key, section in after.items():
        if key not in before:
            changes.append(SectionChange("added", key, section.get("title", ""), _lines("", section.get("body", ""))))
            continue
        previous = before[key]
        lines = _lines(previous.get("body", ""), section.get("body", ""))
        renamed = previous.get("title") != section.get("title")
        if lines or renamed:
            changes.append(SectionChange("changed", key, section.get("title", ""), lines,
                                         previous.get("title", "") if renamed else ""))
    changes.extend(SectionChange("removed", key, s.get("title", ""), _lines(s.get("body", ""), ""))
                   for key, s in before.items() if key not in after)
    return changes, _order(old, new) is not None


def _lines(before: str, after: str) -> list[str]:
    """A unified diff of two texts, line by line, without the ---/+++ header."""
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=1)
    return [line for line in diff if not line.startswith(("---", "+++"))]


def _items(old: list[dict], new: list[dict], nested: str | None = None) -> tuple[list[ItemChange], tuple | None]:
    before, after = _by_key(old), _by_key(new)
    changes = []
    for key, item in after.items():
        name = str(item.get("name") or item.get("title") or key)
        if key not in before:
            changes.append(ItemChange("added", key, name, [FieldChange(f, None, v) for f, v in item.items()
                                                           if f not in ("key", nested)]))
            continue
        previous = before[key]
        fields = [FieldChange(f, previous.get(f), item.get(f)) for f in _field_names(previous, item)
                  if f not in ("key", nested) and _differs(previous.get(f), item.get(f))]
        steps: list[ItemChange] = []
        if nested:
            steps, order = _items(previous.get(nested, []), item.get(nested, []))
            if order:
                fields.append(FieldChange("step order", order[0], order[1]))
        if fields or steps:
            changes.append(ItemChange("changed", key, name, fields, steps))
    changes.extend(ItemChange("removed", key, str(item.get("name") or item.get("title") or key))
                   for key, item in before.items() if key not in after)
    return changes, _order(old, new)


def _field_names(a: dict, b: dict) -> list[str]:
    return list(dict.fromkeys([*a, *b]))


def _differs(a: Any, b: Any) -> bool:
    return canonical_json(a) != canonical_json(b)
