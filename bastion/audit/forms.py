from datetime import date, datetime, time, timedelta

from django import forms
from django.utils import timezone

DATE_HELP = "YYYY-MM-DD, in your time zone"
# Far enough apart for any real search, near enough that time-zone arithmetic cannot overflow.
EARLIEST, LATEST = date(1900, 1, 1), date(9000, 12, 31)


class AuditFilterForm(forms.Form):
    """The audit page's filters. Dates are whole days in the viewer's time zone, both inclusive."""

    action = forms.CharField(required=False, max_length=100, label="Action starts with",
                             widget=forms.TextInput(attrs={"placeholder": "e.g. login"}))
    actor = forms.CharField(required=False, max_length=254, label="Actor contains",
                            widget=forms.TextInput(attrs={"placeholder": "e.g. alice@"}))
    object_type = forms.CharField(required=False, max_length=100, label="Object type",
                                  widget=forms.TextInput(attrs={"list": "object-types", "placeholder": "e.g. accounts.user"}))
    object_id = forms.CharField(required=False, max_length=100, label="Object id")
    date_from = forms.DateField(
        required=False, label="From", help_text=DATE_HELP, input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "“From” must be a date written YYYY-MM-DD, e.g. 2026-01-31."},
    )
    date_to = forms.DateField(
        required=False, label="To", help_text=DATE_HELP, input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "“To” must be a date written YYYY-MM-DD, e.g. 2026-01-31."},
    )

    def _in_range(self, name: str) -> date | None:
        day = self.cleaned_data.get(name)
        if day is not None and not (EARLIEST <= day <= LATEST):
            raise forms.ValidationError(f"Choose a date between {EARLIEST:%Y} and {LATEST:%Y}.")
        return day

    def clean_date_from(self):
        return self._in_range("date_from")

    def clean_date_to(self):
        return self._in_range("date_to")

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "“To” is before “From”: swap the dates.")
        return data

    def filters(self) -> dict:
        """Keyword arguments for AuditEntryQuerySet.matching(); call after is_valid()."""
        data = self.cleaned_data
        return {
            "action": data["action"].strip(),
            "actor": data["actor"].strip(),
            "object_type": data["object_type"].strip(),
            "object_id": data["object_id"].strip(),
            "since": _day_start(data["date_from"]) if data["date_from"] else None,
            "until": _day_start(data["date_to"] + timedelta(days=1)) if data["date_to"] else None,
        }


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())
