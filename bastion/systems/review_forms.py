"""Forms of the criticality review: creating one, and a leader's answers."""

from decimal import Decimal

from django import forms
from django.db.models.functions import Lower
from django.utils import timezone

from bastion.people.models import Person

from .models import BusinessSystem, CriticalityReview, ReviewAggregation, SystemRating
from .review_models import dimension_label


class ReviewForm(forms.Form):
    title = forms.CharField(max_length=200)
    deadline = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}),
                               help_text="The last day leaders can answer")
    aggregation = forms.ChoiceField(choices=ReviewAggregation.choices, initial=ReviewAggregation.MEAN,
                                    help_text="How the leaders' scores of a system combine")
    all_active = forms.BooleanField(required=False, label="All systems in use")
    systems = forms.ModelMultipleChoiceField(
        queryset=BusinessSystem.objects.active().order_by("name"), required=False,
        widget=forms.CheckboxSelectMultiple, label="Systems in scope")
    leaders = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), label="Leaders to invite",
                              help_text="The email of a person in the directory, one per line")

    def clean_deadline(self):
        deadline = self.cleaned_data["deadline"]
        if deadline < timezone.localdate():
            raise forms.ValidationError("The deadline cannot be in the past.")
        return deadline

    def clean_leaders(self) -> list[Person]:
        emails: list[str] = []
        for line in self.cleaned_data["leaders"].splitlines():
            email = line.strip()
            if email and email.casefold() not in {e.casefold() for e in emails}:
                emails.append(email)
        if not emails:
            raise forms.ValidationError("Invite at least one leader.")
        found = Person.objects.annotate(email_lower=Lower("email")).filter(
            email_lower__in=[e.lower() for e in emails])
        people = {p.email.casefold(): p for p in found}
        unknown = [e for e in emails if e.casefold() not in people]
        if unknown:
            raise forms.ValidationError(
                "Not a person in the directory: " + ", ".join(unknown) + ". Add them to the directory first.")
        return [people[e.casefold()] for e in emails]

    def clean(self):
        data = super().clean()
        if data.get("all_active"):
            data["systems"] = list(BusinessSystem.objects.active())
        if not data.get("systems"):
            self.add_error("systems", "Choose the systems in scope, or all systems in use.")
        return data


IMPACT_FIELD_CHOICES = [("", "—")] + [(str(n), str(n)) for n in range(1, 6)]


class AnswerForm(forms.Form):
    """One leader's answers for every system in scope: field names carry the system id."""

    def __init__(self, data=None, *, review: CriticalityReview, systems, ratings: dict[int, SystemRating],
                 read_only: bool = False):
        super().__init__(data)
        self.review = review
        self.systems = list(systems)
        self.rows = []
        for system in self.systems:
            rating = ratings.get(system.pk)
            impacts = rating.impacts if rating else {}
            impact_fields = []
            for key in review.dimension_keys:
                name = f"s{system.pk}_{key}"
                self.fields[name] = forms.TypedChoiceField(
                    label=f"{dimension_label(key)} impact of {system.name}", required=False,
                    choices=IMPACT_FIELD_CHOICES, coerce=int, empty_value=None, disabled=read_only,
                    initial=impacts.get(key),
                    error_messages={"invalid_choice": "Impact must be a whole number from 1 to 5 (or blank)."})
                impact_fields.append(name)
            down = f"s{system.pk}_downtime"
            self.fields[down] = forms.DecimalField(
                label=f"Tolerable downtime of {system.name} (hours)", required=False, min_value=Decimal(0),
                max_digits=8, decimal_places=2, disabled=read_only,
                initial=rating.tolerable_downtime_hours if rating else None)
            notes = f"s{system.pk}_notes"
            self.fields[notes] = forms.CharField(
                label=f"Notes on {system.name}", required=False, max_length=5000, disabled=read_only,
                widget=forms.Textarea(attrs={"rows": 2}), initial=rating.notes if rating else "")
            self.rows.append({"system": system, "impacts": [self[n] for n in impact_fields],
                              "downtime": self[down], "notes": self[notes]})

    def answers(self) -> dict[int, dict]:
        data = self.cleaned_data
        return {system.pk: {
            "impacts": {key: data.get(f"s{system.pk}_{key}") for key in self.review.dimension_keys},
            "tolerable_downtime_hours": data.get(f"s{system.pk}_downtime"),
            "notes": (data.get(f"s{system.pk}_notes") or "").strip(),
        } for system in self.systems}
