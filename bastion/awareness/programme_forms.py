"""The programme form: its rules, checked all at once, and on an edit the reason for a change."""

import copy
import re
from datetime import date
from typing import Any

from django import forms
from django.db.models import Model, Q

from bastion.people.models import Group

from .models import Course, Programme

# The fields that decide who is assigned what and when, and what follows: a change to any of
# them is recorded as a ProgrammeChange with its reason. (The name is not a rule.)
RULE_FIELDS = (
    "course", "audience", "active", "starts_on", "on_hire", "hire_due_days", "recurring_months", "on_change",
    "remedial", "due_days", "reminder_days", "escalate_after_days", "consequence_after_days",
    "consequence_notify", "incentive_points", "incentive_recognition", "incentive_prize_draw",
)
REMINDER_MIN, REMINDER_MAX, REMINDERS_AT_MOST = -60, 120, 10


def rule_value(value: Any) -> Any:
    """A rule's value as JSON, as a ProgrammeChange keeps it (a course or group by id and name)."""
    if isinstance(value, Model):
        return {"id": value.pk, "name": str(value)}
    if isinstance(value, date):
        return value.isoformat()
    return value


def rule_values(programme: Programme) -> dict[str, Any]:
    return {name: rule_value(getattr(programme, name)) for name in RULE_FIELDS}


def parse_reminder_days(text: str) -> list[int]:
    """ "-7, 0, 3" → [-7, 0, 3] (sorted, each once); ValidationError with a clear message."""
    days: set[int] = set()
    for part in (p.strip() for p in text.replace(";", ",").split(",")):
        if not part:
            continue
        if not re.fullmatch(r"[+-]?\d{1,4}", part):
            raise forms.ValidationError(
                "“%(part)s” is not a whole number of days. Write days relative to the due date, separated "
                "by commas, e.g. -7, 0, 3.", params={"part": part[:20]}, code="invalid")
        day = int(part)
        if not REMINDER_MIN <= day <= REMINDER_MAX:
            raise forms.ValidationError(
                "%(day)s is out of range: reminders go from %(lo)s (days before the due date) to %(hi)s "
                "(days after).", params={"day": day, "lo": REMINDER_MIN, "hi": REMINDER_MAX}, code="range")
        days.add(day)
    if len(days) > REMINDERS_AT_MOST:
        raise forms.ValidationError(f"At most {REMINDERS_AT_MOST} reminders.", code="too_many")
    return sorted(days)


def _days(label: str, lo: int, hi: int, *, required: bool = True, help_text: str = "") -> forms.IntegerField:
    message = f"Between {lo} and {hi} days."
    return forms.IntegerField(label=label, required=required, min_value=lo, max_value=hi, help_text=help_text,
                              error_messages={"min_value": message, "max_value": message,
                                              "invalid": "A whole number of days.",
                                              "required": "Required."})


class ProgrammeForm(forms.ModelForm):
    hire_due_days = _days("Due after the hire date (days)", 0, 365)
    due_days = _days("Due after being assigned (days)", 1, 365,
                     help_text="For everyone assigned other than on hire; a recurring assignment is made this "
                               "many days before it falls due")
    recurring_months = forms.IntegerField(
        label="Repeat every (months)", required=False, min_value=1, max_value=120,
        help_text="Counted from the last completion; blank for once only",
        error_messages={"min_value": "Between 1 and 120 months, or blank for once only.",
                        "max_value": "Between 1 and 120 months, or blank for once only.",
                        "invalid": "A whole number of months."})
    reminder_days = forms.CharField(
        label="Reminders (days relative to the due date)", required=False, max_length=200, initial="-7, 0, 3",
        help_text="Comma-separated whole days, negative before the due date: -7, 0, 3 is a week before, "
                  "on the day and three days after. Blank for no reminders.")
    escalate_after_days = _days("Escalate to the manager after (days overdue)", 1, 365, required=False,
                                help_text="Blank: never escalate")
    consequence_after_days = _days("Consequence after (days overdue)", 1, 365, required=False,
                                   help_text="Mark non-compliant (and tell the HR contact); blank: never")
    incentive_points = forms.IntegerField(label="Points for on-time completion", min_value=0, max_value=1000,
                                          error_messages={"min_value": "Between 0 and 1000 points.",
                                                          "max_value": "Between 0 and 1000 points."})
    reason = forms.CharField(label="Reason for the change", required=False, max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}),
                             help_text="Required when a rule changes; kept with the change so results before "
                                       "and after can be compared")

    class Meta:
        model = Programme
        fields = ("name",) + RULE_FIELDS
        widgets = {"starts_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}
        labels = {"on_hire": "Assign on hire", "on_change": "Assign again on a change of department or title",
                  "remedial": "Remedial (phishing may assign it; no assignment to everyone)",
                  "consequence_notify": "HR contact for consequences", "active": "Active",
                  "incentive_recognition": "Thank-you email for on-time completion",
                  "incentive_prize_draw": "Prize-draw entry for on-time completion"}
        error_messages = {"name": {"unique": "A programme with this name exists already."},
                          "consequence_notify": {"invalid": "Enter a valid email address, e.g. hr@example.com."}}

    def __init__(self, *args, programme: Programme | None = None, **kwargs):
        self.programme = programme
        self.before = rule_values(programme) if programme else {}
        # A copy: validating assigns the new values to the instance, and the page still shows the saved ones.
        kwargs["instance"] = copy.copy(programme) if programme else None
        super().__init__(*args, **kwargs)
        courses = Course.objects.filter(archived=False)
        if programme:
            courses = Course.objects.filter(Q(archived=False) | Q(pk=programme.course_id))
            self.initial["reminder_days"] = ", ".join(str(d) for d in programme.reminder_days)
        else:
            del self.fields["reason"]
        course_field: Any = self.fields["course"]
        course_field.queryset = courses.order_by("title")
        course_field.error_messages["invalid_choice"] = "Choose one of the courses listed (not archived)."
        audience_field: Any = self.fields["audience"]
        audience_field.queryset = Group.objects.order_by("name")
        audience_field.empty_label = "Everyone in the directory"
        audience_field.error_messages["invalid_choice"] = "Choose one of the groups listed."

    def clean_reminder_days(self) -> list[int]:
        return parse_reminder_days(self.cleaned_data.get("reminder_days") or "")

    def clean_consequence_notify(self) -> str:
        return (self.cleaned_data.get("consequence_notify") or "").strip().lower()

    def clean(self):
        cleaned = super().clean()
        if self.programme is not None and self.changes() and not (cleaned.get("reason") or "").strip():
            self.add_error("reason", "Say why the rules change: the reason is kept with the change, so that "
                                     "results before and after can be compared.")
        return cleaned

    def fields_to_save(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in ("name",) + RULE_FIELDS}

    def changes(self) -> dict[str, tuple[Any, Any]]:
        """Rule field → (before, after) for the rules this edit changes."""
        if self.programme is None:
            return {}
        changed = {}
        for name in RULE_FIELDS:
            if name not in self.cleaned_data:
                continue
            before, after = self.before[name], rule_value(self.cleaned_data[name])
            if _identity(before) != _identity(after):
                changed[name] = (before, after)
        return changed


def _identity(value: Any) -> Any:
    """A course or group is the same one whatever its name now."""
    return value["id"] if isinstance(value, dict) else value
