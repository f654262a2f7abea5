"""The one validation of a person and of a group, used by the pages and by the API."""

import re
from datetime import datetime

from django import forms
from django.utils import timezone

from .models import RULE_OPS, Group, GroupKind, Person, PersonStatus, RuleField, RuleOp

DATE_FORMAT = "%Y-%m-%d"
# The rule editor shows this many condition rows; the API accepts no more either.
MAX_RULES = 6
# Employee ids accepted in one add or remove, so one request stays a bounded amount of work.
MAX_IDS_PER_CHANGE = 10_000
RULE_VALUE_MAX = 200

_COUNTRY = re.compile(r"[A-Z]{2}")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*")
# Commas and line breaks separate employee ids in lists, so an id cannot hold them.
_EMPLOYEE_ID = re.compile(r"[^,\x00-\x1f\x7f]+")


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format=DATE_FORMAT)


def _date_field(label: str, help_text: str = "") -> forms.DateField:
    return forms.DateField(
        label=label, required=False, input_formats=[DATE_FORMAT], widget=DateInput(),
        help_text=help_text, error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
    )


def split_employee_ids(text: str) -> list[str]:
    """Employee ids typed one per line or separated by commas, without blanks or repeats."""
    ids = (part.strip() for part in re.split(r"[,\r\n]+", text or ""))
    return list(dict.fromkeys(i for i in ids if i))


def people_by_employee_id(ids: list[str]) -> tuple[list[Person], list[str]]:
    """The people with these employee ids, and the ids nobody has."""
    found: dict[str, Person] = {}
    for start in range(0, len(ids), 500):
        for person in Person.objects.filter(employee_id__in=ids[start:start + 500]).only("pk", "employee_id"):
            found[person.employee_id] = person
    return [found[i] for i in ids if i in found], [i for i in ids if i not in found]


def _unknown_ids_message(missing: list[str]) -> str:
    shown = ", ".join(missing[:20])
    more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
    noun = "employee id" if len(missing) == 1 else "employee ids"
    return f"No person has the {noun} {shown}{more}."


class PersonForm(forms.Form):
    """Every directory field of a person, checked the same way for the page and the API."""

    employee_id = forms.CharField(label="Employee id", max_length=64,
                                  help_text="HR's key for this person, e.g. E1001.")
    email = forms.EmailField(max_length=254)
    first_name = forms.CharField(max_length=100)
    last_name = forms.CharField(max_length=100)
    department = forms.CharField(max_length=100, required=False)
    title = forms.CharField(max_length=150, required=False)
    manager = forms.CharField(
        label="Manager's employee id", max_length=64, required=False,
        help_text="Leave empty if their manager is not in the directory.",
    )
    country = forms.CharField(
        required=False, help_text="Two-letter ISO 3166 code, e.g. DE or US.",
        widget=forms.TextInput(attrs={"maxlength": 2, "size": 3, "autocapitalize": "characters"}),
    )
    language = forms.CharField(max_length=16, required=False, help_text="e.g. en, de, fr-CA")
    hire_date = _date_field("Hire date")
    leave_date = _date_field("Leave date", "A leave date that has passed makes the person a leaver.")
    status = forms.ChoiceField(choices=PersonStatus.choices, initial=PersonStatus.ACTIVE)

    def __init__(self, *args, person: Person | None = None, **kwargs):
        self.person = person
        if person is not None:
            kwargs.setdefault("initial", person.snapshot())
        super().__init__(*args, **kwargs)

    def clean_employee_id(self) -> str:
        value = self.cleaned_data["employee_id"]
        if not _EMPLOYEE_ID.fullmatch(value):
            raise forms.ValidationError("An employee id cannot contain commas or line breaks.")
        taken = Person.objects.filter(employee_id=value)
        if self.person is not None:
            taken = taken.exclude(pk=self.person.pk)
        if taken.exists():
            raise forms.ValidationError(f"Another person already has the employee id {value}.")
        return value

    def clean_email(self) -> str:
        value = self.cleaned_data["email"].lower()
        taken = Person.objects.filter(email__iexact=value)
        if self.person is not None:
            taken = taken.exclude(pk=self.person.pk)
        if taken.exists():
            raise forms.ValidationError(f"Another person already has the email address {value}.")
        return value

    def clean_manager(self) -> Person | None:
        value = self.cleaned_data["manager"]
        if not value:
            return None
        manager = Person.objects.filter(employee_id=value).first()
        if manager is None:
            raise forms.ValidationError(f"No person has the employee id {value}.")
        return manager

    def clean_country(self) -> str:
        value = self.cleaned_data["country"].upper()
        if value and not _COUNTRY.fullmatch(value):
            raise forms.ValidationError("Enter a two-letter country code, e.g. DE or US.")
        return value

    def clean_language(self) -> str:
        value = self.cleaned_data["language"]
        if value and not _LANGUAGE.fullmatch(value):
            raise forms.ValidationError("Enter a language code such as en, de or fr-CA.")
        return value

    def clean(self):
        data = super().clean()
        manager: Person | None = data.get("manager")
        if manager is not None and self.person is not None:
            if manager.pk == self.person.pk:
                self.add_error("manager", "A person cannot be their own manager.")
            elif self.person.pk in manager.chain_of_command():
                self.add_error("manager", f"{manager} already reports to {self.person} (directly or "
                                          "not), so they cannot also be their manager.")
        hire, leave = data.get("hire_date"), data.get("leave_date")
        if hire and leave and leave < hire:
            self.add_error("leave_date", "The leave date cannot be before the hire date.")
        today = timezone.localdate()
        if leave and leave < today:
            # Once the leave date has passed, the person has left, whatever the form said.
            data["status"] = PersonStatus.LEAVER
        elif leave and leave > today and data.get("status") == PersonStatus.LEAVER:
            self.add_error("status", "The leave date is still to come: the person stays Active "
                                     "until then.")
        return data

    def directory_fields(self) -> dict:
        """The cleaned values to store, by model field (manager as a Person)."""
        return {name: self.cleaned_data[name] for name in Person.DIRECTORY_FIELDS}


def clean_rule(field: str, op: str, value: str) -> dict:
    """One rule condition, checked and normalised; raises ValidationError with a clear message."""
    if field not in RuleField.values:
        raise forms.ValidationError("Choose what the condition is about (department, country...).")
    label = RuleField(field).label
    if op not in RULE_OPS[field]:
        fits = ", ".join(f"“{RuleOp(o).label}”" for o in RULE_OPS[field])
        raise forms.ValidationError(f"{label} can be compared with {fits} only.")
    value = (value or "").strip()
    if not value:
        raise forms.ValidationError(f"Enter the value to compare {label.lower()} with.")
    if len(value) > RULE_VALUE_MAX:
        raise forms.ValidationError(f"Keep the value under {RULE_VALUE_MAX} characters.")
    values = [v.strip() for v in value.split(",") if v.strip()] if op == RuleOp.IN else [value]
    if field == RuleField.HIRE_DATE:
        try:
            value = datetime.strptime(value, DATE_FORMAT).date().isoformat()
        except ValueError:
            raise forms.ValidationError("Enter the hire date as YYYY-MM-DD.") from None
    elif field == RuleField.COUNTRY:
        values = [v.upper() for v in values]
        if not all(_COUNTRY.fullmatch(v) for v in values):
            raise forms.ValidationError("Use two-letter country codes, e.g. DE or US.")
        value = ", ".join(values)
    elif field == RuleField.STATUS:
        if value.lower() not in PersonStatus.values:
            raise forms.ValidationError("Status is either active or leaver.")
        value = value.lower()
    elif field == RuleField.MANAGER:
        if not Person.objects.filter(employee_id=value).exists():
            raise forms.ValidationError(f"No person has the employee id {value}.")
    elif op == RuleOp.IN:
        value = ", ".join(values)
    return {"field": field, "op": op, "value": value}


class GroupForm(forms.Form):
    """A group's name and kind, its rule conditions, and the members to add or remove."""

    name = forms.CharField(max_length=150)
    description = forms.CharField(max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    kind = forms.ChoiceField(
        choices=GroupKind.choices, initial=GroupKind.STATIC, widget=forms.RadioSelect,
        help_text="Making a static group rule-based removes its chosen members.",
    )
    add_members = forms.CharField(
        label="Add members", required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Static groups: employee ids, one per line or separated by commas.",
    )
    remove_members = forms.CharField(
        label="Remove members", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Employee ids, one per line or separated by commas.",
    )

    def __init__(self, *args, group: Group | None = None, **kwargs):
        self.group = group
        if group is not None:
            kwargs.setdefault("initial", self.initial_for(group))
        super().__init__(*args, **kwargs)
        if group is None:
            del self.fields["remove_members"]
            self.fields["add_members"].label = "Members"
        for i in range(MAX_RULES):
            n = i + 1
            self.fields[f"rule_{i}_field"] = forms.ChoiceField(
                label=f"Condition {n}: field", required=False, choices=[("", "—"), *RuleField.choices])
            self.fields[f"rule_{i}_op"] = forms.ChoiceField(
                label=f"Condition {n}: comparison", required=False, choices=[("", "—"), *RuleOp.choices])
            self.fields[f"rule_{i}_value"] = forms.CharField(
                label=f"Condition {n}: value", required=False, max_length=RULE_VALUE_MAX)

    @staticmethod
    def initial_for(group: Group) -> dict:
        """The form's values for an existing group (its rules spread over the condition rows)."""
        data = {"name": group.name, "description": group.description, "kind": group.kind}
        for i, rule in enumerate(group.rules[:MAX_RULES]):
            data.update({f"rule_{i}_field": rule["field"], f"rule_{i}_op": rule["op"],
                         f"rule_{i}_value": rule["value"]})
        return data

    def rule_rows(self) -> list[dict]:
        """The condition rows as bound fields, for the template."""
        return [{"number": i + 1, "field": self[f"rule_{i}_field"], "op": self[f"rule_{i}_op"],
                 "value": self[f"rule_{i}_value"]} for i in range(MAX_RULES)]

    @staticmethod
    def rule_help() -> list[tuple[str, str]]:
        """Each field with the comparisons that fit it, in words."""
        return [(RuleField(f).label, ", ".join(RuleOp(o).label for o in ops)) for f, ops in RULE_OPS.items()]

    def clean_name(self) -> str:
        value = self.cleaned_data["name"]
        taken = Group.objects.filter(name__iexact=value)
        if self.group is not None:
            taken = taken.exclude(pk=self.group.pk)
        if taken.exists():
            raise forms.ValidationError(f"There is already a group called {value}.")
        return value

    def _clean_ids(self, name: str) -> list[Person]:
        if name not in self.fields:
            return []
        ids = split_employee_ids(self.cleaned_data.get(name, ""))
        if len(ids) > MAX_IDS_PER_CHANGE:
            self.add_error(name, f"At most {MAX_IDS_PER_CHANGE:,} employee ids at a time.")
            return []
        people, missing = people_by_employee_id(ids)
        if missing:
            self.add_error(name, _unknown_ids_message(missing))
        return people

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        rows = [i for i in range(MAX_RULES)
                if any(data.get(f"rule_{i}_{part}") for part in ("field", "op", "value"))]
        rules = []
        if kind == GroupKind.RULE:
            if not rows:
                self.add_error(None, "A rule-based group needs at least one condition.")
            for i in rows:
                try:
                    rules.append(clean_rule(data.get(f"rule_{i}_field", ""), data.get(f"rule_{i}_op", ""),
                                            data.get(f"rule_{i}_value", "")))
                except forms.ValidationError as error:
                    self.add_error(f"rule_{i}_value", error)
            for name in ("add_members", "remove_members"):
                if data.get(name):
                    self.add_error(name, "A rule-based group chooses its members by its conditions; "
                                         "leave this empty.")
        elif kind == GroupKind.STATIC and rows:
            self.add_error(None, "A static group has no conditions: clear them, or choose rule-based.")
        data["rules"] = rules
        data["add"] = self._clean_ids("add_members") if kind == GroupKind.STATIC else []
        data["remove"] = self._clean_ids("remove_members") if kind == GroupKind.STATIC else []
        both = {p.employee_id for p in data["add"]} & {p.employee_id for p in data["remove"]}
        if both:
            self.add_error("remove_members", f"Asked to both add and remove: {', '.join(sorted(both))}.")
        return data
