"""Forms of the plan pages: one per kind of item of the content (a section, a role, a severity
level, an incident type, a playbook step, a calendar, a notification rule) and the plan's
settings. Each form turns its fields into the item's dict (``item()``); the content as a whole
is validated by actions.do_save_draft, whose messages the page shows beside the form.
"""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from bastion.accounts.models import Role, User
from bastion.people.models import Group, Person

from .actions import APPROVER_ROLES
from .content import CHANNELS, CLOCKS, FACTS, KEY_PATTERN, OP_WORDS, UNITS
from .models import Decision

TEXTAREA = forms.Textarea(attrs={"rows": 4})
LONG_TEXTAREA = forms.Textarea(attrs={"rows": 14})


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class ItemForm(forms.Form):
    """A new item names its key (a stable identifier); an existing item keeps the one it has."""

    key = forms.CharField(max_length=64, help_text="A stable identifier: lower-case letters, digits, - or _.")

    def __init__(self, *args, item: dict | None = None, **kwargs) -> None:
        self.existing = item
        if item is not None:
            kwargs.setdefault("initial", self.initial_from(item))
        super().__init__(*args, **kwargs)
        if item is not None:
            del self.fields["key"]

    def initial_from(self, item: dict) -> dict:
        return dict(item)

    def clean_key(self) -> str:
        key = self.cleaned_data["key"].strip()
        if not KEY_PATTERN.match(key):
            raise ValidationError("Use 1–64 lower-case letters, digits, - or _, starting with a letter or digit.")
        return key

    def item(self) -> dict:
        """The item as the content stores it (the key included)."""
        key = self.existing["key"] if self.existing is not None else self.cleaned_data["key"]
        return {"key": key, **self.fields_of_item()}

    def fields_of_item(self) -> dict:
        raise NotImplementedError


class SectionForm(ItemForm):
    title = forms.CharField(max_length=200)
    body = forms.CharField(widget=LONG_TEXTAREA, required=False, help_text="Markdown.")

    def fields_of_item(self) -> dict:
        return {"title": self.cleaned_data["title"], "body": self.cleaned_data["body"]}


def people_by_email(emails: set[str]) -> dict[str, Person]:
    """Directory records by (lower-cased) email, in one query."""
    if not emails:
        return {}
    found = Person.objects.filter(email__in=emails).only("pk", "email", "first_name", "last_name")
    return {p.email.lower(): p for p in found}


class RoleForm(ItemForm):
    name = forms.CharField(max_length=200)
    authority = forms.CharField(widget=TEXTAREA, required=False, help_text="What the role decides (Markdown).")
    holders = forms.CharField(
        widget=TEXTAREA, required=False,
        help_text="One holder a line, by their email in the people directory; add their deputy after a "
                  "comma: holder@example.com, deputy@example.com")

    def initial_from(self, item: dict) -> dict:
        ids = {v for h in item.get("holders", []) for v in (h.get("person"), h.get("deputy")) if v}
        emails = dict(Person.objects.filter(pk__in=ids).values_list("pk", "email")) if ids else {}
        lines = []
        for holder in item.get("holders", []):
            line = emails.get(holder.get("person"), str(holder.get("person")))
            if holder.get("deputy"):
                line += ", " + emails.get(holder["deputy"], str(holder["deputy"]))
            lines.append(line)
        return {**item, "holders": "\n".join(lines)}

    def clean_holders(self) -> list[dict]:
        rows = [[part.strip().lower() for part in line.split(",")] for line in _lines(self.cleaned_data["holders"])]
        bad = [", ".join(row) for row in rows if len(row) > 2 or not all(row)]
        if bad:
            raise ValidationError(f"Write one holder a line, optionally a comma and their deputy: {bad[0]!r}.")
        people = people_by_email({email for row in rows for email in row})
        unknown = sorted({email for row in rows for email in row if email not in people})
        if unknown:
            raise ValidationError("Not in the people directory: " + ", ".join(unknown) + ".")
        return [{"person": people[row[0]].pk, "deputy": people[row[1]].pk if len(row) > 1 else None} for row in rows]

    def fields_of_item(self) -> dict:
        return {"name": self.cleaned_data["name"], "authority": self.cleaned_data["authority"],
                "holders": self.cleaned_data["holders"]}


class SeverityForm(ItemForm):
    name = forms.CharField(max_length=200)
    definition = forms.CharField(widget=TEXTAREA)
    criteria = forms.CharField(widget=TEXTAREA, required=False, help_text="One criterion a line.")

    def initial_from(self, item: dict) -> dict:
        return {**item, "criteria": "\n".join(item.get("criteria", []))}

    def fields_of_item(self) -> dict:
        return {"name": self.cleaned_data["name"], "definition": self.cleaned_data["definition"],
                "criteria": _lines(self.cleaned_data["criteria"])}


class IncidentTypeForm(ItemForm):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=TEXTAREA, required=False)

    def fields_of_item(self) -> dict:
        playbook = self.existing.get("playbook", []) if self.existing is not None else []
        return {"name": self.cleaned_data["name"], "description": self.cleaned_data["description"],
                "playbook": playbook}


class StepForm(ItemForm):
    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=TEXTAREA, required=False)
    owner_role = forms.ChoiceField(label="Owner role")
    expected_minutes = forms.IntegerField(required=False, min_value=1, label="Expected minutes",
                                          help_text="Leave empty when it cannot be said.")
    required = forms.BooleanField(required=False, help_text="Untick for an optional step.")

    def __init__(self, *args, roles: list[dict], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        owner_role = self.fields["owner_role"]
        assert isinstance(owner_role, forms.ChoiceField)
        owner_role.choices = [(r["key"], r.get("name") or r["key"]) for r in roles]
        if self.existing is None:
            self.fields["required"].initial = True

    def fields_of_item(self) -> dict:
        data = self.cleaned_data
        return {"title": data["title"], "description": data["description"], "owner_role": data["owner_role"],
                "expected_minutes": data["expected_minutes"], "required": data["required"]}


class CalendarForm(ItemForm):
    key = forms.CharField(max_length=64, help_text="The jurisdiction's code, e.g. US or EU.")
    name = forms.CharField(max_length=200)
    time_zone = forms.CharField(max_length=64, help_text="e.g. America/New_York")
    holidays = forms.CharField(widget=LONG_TEXTAREA, required=False, help_text="One date a line, YYYY-MM-DD.")

    def clean_key(self) -> str:
        key = self.cleaned_data["key"].strip()
        if not KEY_PATTERN.match(key.lower()):
            raise ValidationError("Use the jurisdiction's code: letters and digits.")
        return key

    def initial_from(self, item: dict) -> dict:
        return {**item, "holidays": "\n".join(item.get("holidays", []))}

    def fields_of_item(self) -> dict:
        return {"name": self.cleaned_data["name"], "time_zone": self.cleaned_data["time_zone"].strip(),
                "holidays": _lines(self.cleaned_data["holidays"])}


CONDITION_ROWS_SPARE = 2
_OPS = sorted({op for fact in FACTS.values() for op in fact.ops})


def parse_value(fact: str, text: str) -> Any:
    """A condition's value typed as text, as the content stores it for the fact's kind."""
    kind = FACTS[fact].kind
    text = text.strip()
    if kind == "bool":
        lowered = text.lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
        raise ValidationError(f"{fact} is true or false, not {text!r}.")
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValidationError(f"{fact} is a whole number, not {text!r}.") from None
    if kind == "severity":
        return text
    return [part.strip() for part in text.split(",") if part.strip()]


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)


class RuleForm(ItemForm):
    """A notification rule: its conditions as rows (fact, operator, value; the existing ones and
    two spare), recipients one a line, the deadline and its optional second bound."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=TEXTAREA, help_text="Cite the source (law, article, contract).")
    enabled = forms.BooleanField(required=False)
    match = forms.ChoiceField(choices=[("all", "every condition holds"), ("any", "at least one condition holds")],
                              label="The rule applies when")
    recipients = forms.CharField(
        widget=TEXTAREA,
        help_text="One a line: role: <role key> · person: <email in the directory> · "
                  "external: <name> | <contact>")
    clock = forms.ChoiceField(choices=list(CLOCKS.items()), label="Deadline counts from")
    amount = forms.IntegerField(min_value=0)
    unit = forms.ChoiceField(choices=list(UNITS.items()))
    calendar = forms.CharField(max_length=64, required=False, help_text="For business days: a calendar's key.")
    note = forms.CharField(max_length=500, required=False)
    no_later_than_clock = forms.ChoiceField(choices=[("", "—"), *CLOCKS.items()], required=False,
                                            label="But no later than … from")
    no_later_than_amount = forms.IntegerField(min_value=0, required=False, label="No later than: amount")
    no_later_than_unit = forms.ChoiceField(choices=[("", "—"), *UNITS.items()], required=False,
                                           label="No later than: unit")
    no_later_than_calendar = forms.CharField(max_length=64, required=False, label="No later than: calendar")
    channel = forms.ChoiceField(choices=list(CHANNELS.items()))
    message = forms.CharField(widget=TEXTAREA, help_text="May name {incident}, {title}, {severity}, {incident_type}, "
                                                         "{summary}, {declared_at}, {deadline}, {link}, "
                                                         "{organisation}, {contact}.")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        item = self.existing or {}
        when = item.get("when", {})
        conditions = when.get("all", []) + when.get("any", [])
        self.fields["match"].initial = "any" if when.get("any") and not when.get("all") else "all"
        if self.existing is None:
            self.fields["enabled"].initial = True
        posted = self.data.get("condition_rows") if self.is_bound else None
        rows = int(posted) if posted and str(posted).isdigit() and int(posted) <= 50 else len(conditions) + CONDITION_ROWS_SPARE
        self.condition_rows = rows
        fact_choices = [("", "—"), *((name, name) for name in FACTS)]
        op_choices = [("", "—"), *((op, OP_WORDS.get(op, op)) for op in _OPS)]
        for i in range(rows):
            condition = conditions[i] if i < len(conditions) else {}
            self.fields[f"fact_{i}"] = forms.ChoiceField(choices=fact_choices, required=False, label=f"Condition {i + 1}: fact",
                                                         initial=condition.get("fact", ""))
            self.fields[f"op_{i}"] = forms.ChoiceField(choices=op_choices, required=False, label="operator",
                                                       initial=condition.get("op", ""))
            self.fields[f"value_{i}"] = forms.CharField(required=False, label="value",
                                                        initial=value_text(condition.get("value")),
                                                        help_text="true/false, a number, or a comma-separated list")

    def initial_from(self, item: dict) -> dict:
        deadline = item.get("deadline", {})
        second = deadline.get("no_later_than") or {}
        lines = []
        person_ids = [r["person"] for r in item.get("recipients", []) if r.get("kind") == "person"]
        emails = dict(Person.objects.filter(pk__in=person_ids).values_list("pk", "email")) if person_ids else {}
        for recipient in item.get("recipients", []):
            if recipient.get("kind") == "role":
                lines.append(f"role: {recipient.get('role')}")
            elif recipient.get("kind") == "person":
                lines.append(f"person: {emails.get(recipient.get('person'), recipient.get('person'))}")
            else:
                contact = recipient.get("contact")
                lines.append(f"external: {recipient.get('name')}" + (f" | {contact}" if contact else ""))
        return {**item, "recipients": "\n".join(lines), "clock": deadline.get("clock"),
                "amount": deadline.get("amount"), "unit": deadline.get("unit"),
                "calendar": deadline.get("calendar", ""), "note": deadline.get("note", ""),
                "no_later_than_clock": second.get("clock", ""), "no_later_than_amount": second.get("amount"),
                "no_later_than_unit": second.get("unit", ""), "no_later_than_calendar": second.get("calendar", "")}

    def condition_fields(self) -> list[tuple]:
        return [(self[f"fact_{i}"], self[f"op_{i}"], self[f"value_{i}"]) for i in range(self.condition_rows)]

    def clean_recipients(self) -> list[dict]:
        recipients: list[dict] = []
        wanted_emails = set()
        for line in _lines(self.cleaned_data["recipients"]):
            kind, _, rest = line.partition(":")
            kind, rest = kind.strip().lower(), rest.strip()
            if kind == "role" and rest:
                recipients.append({"kind": "role", "role": rest})
            elif kind == "person" and rest:
                wanted_emails.add(rest.lower())
                recipients.append({"kind": "person", "person": rest.lower()})
            elif kind == "external" and rest:
                name, _, contact = rest.partition("|")
                recipients.append({"kind": "external", "name": name.strip(), "contact": contact.strip()})
            else:
                raise ValidationError(f"{line!r}: start the line with role:, person: or external:.")
        people = people_by_email(wanted_emails)
        unknown = sorted(wanted_emails - set(people))
        if unknown:
            raise ValidationError("Not in the people directory: " + ", ".join(unknown) + ".")
        for recipient in recipients:
            if recipient["kind"] == "person":
                recipient["person"] = people[recipient["person"]].pk
        return recipients

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        conditions = []
        for i in range(self.condition_rows):
            fact, op, value = data.get(f"fact_{i}"), data.get(f"op_{i}"), data.get(f"value_{i}", "")
            if not fact and not op and not value:
                continue
            if not fact or not op:
                self.add_error(f"fact_{i}", "Choose the fact and the operator, or clear the row.")
                continue
            try:
                conditions.append({"fact": fact, "op": op, "value": parse_value(fact, value)})
            except ValidationError as error:
                self.add_error(f"value_{i}", error)
        data["conditions"] = conditions
        return data

    def fields_of_item(self) -> dict:
        data = self.cleaned_data
        deadline: dict[str, Any] = {"clock": data["clock"], "amount": data["amount"], "unit": data["unit"]}
        if data["calendar"].strip():
            deadline["calendar"] = data["calendar"].strip()
        if data["note"].strip():
            deadline["note"] = data["note"].strip()
        if data["no_later_than_clock"] or data["no_later_than_amount"] is not None or data["no_later_than_unit"]:
            second: dict[str, Any] = {"clock": data["no_later_than_clock"], "amount": data["no_later_than_amount"],
                                      "unit": data["no_later_than_unit"]}
            if data["no_later_than_calendar"].strip():
                second["calendar"] = data["no_later_than_calendar"].strip()
            deadline["no_later_than"] = second
        when = {"all": data["conditions"], "any": []} if data["match"] == "all" else {"all": [], "any": data["conditions"]}
        return {"name": data["name"], "description": data["description"], "enabled": data["enabled"],
                "when": when, "recipients": data["recipients"], "deadline": deadline, "channel": data["channel"],
                "message": data["message"]}


class SummaryForm(forms.Form):
    summary_of_changes = forms.CharField(widget=TEXTAREA, required=False, label="Summary of changes",
                                         help_text="What changed in this version and why; approvers read it first.")


class SettingsForm(forms.Form):
    name = forms.CharField(max_length=200)
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False,
                                   help_text="Runs the periodic review.")
    approvers = forms.ModelMultipleChoiceField(queryset=User.objects.none(), required=False,
                                               widget=forms.CheckboxSelectMultiple,
                                               help_text="Executives (active); every one approves each version, and the lead and team never approve their own work.")
    review_interval_months = forms.IntegerField(min_value=1, max_value=36, label="Review every (months)")
    reader_roles = forms.MultipleChoiceField(choices=Role.choices, required=False, widget=forms.CheckboxSelectMultiple,
                                             label="Roles who must acknowledge")
    reader_groups = forms.ModelMultipleChoiceField(queryset=Group.objects.none(), required=False,
                                                   widget=forms.CheckboxSelectMultiple,
                                                   label="Groups who must acknowledge")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        active = User.objects.filter(is_active=True).order_by("email")
        self.fields["owner"].queryset = active  # type: ignore[attr-defined]
        self.fields["approvers"].queryset = active.filter(role__in=APPROVER_ROLES)  # type: ignore[attr-defined]
        self.fields["reader_groups"].queryset = Group.objects.order_by("name")  # type: ignore[attr-defined]


class DecisionForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    content_hash = forms.CharField(max_length=64, widget=forms.HiddenInput)
    decision = forms.ChoiceField(choices=Decision.choices)
    comment = forms.CharField(widget=TEXTAREA, required=False,
                              help_text="Required when you request changes: say which.")
