"""Forms of the criticality review: creating one, and a leader's answers."""

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.db.models.functions import Lower
from django.utils import timezone

from bastion.people.models import Person

from .models import BusinessSystem, CriticalityReview, ReviewAggregation, SystemRating
from .ranking import DEFAULT_DIMENSIONS, DEFAULT_TIER_THRESHOLDS
from .review_models import dimension_label

# Dimensions the lead may add beside the five defaults.
EXTRA_DIMENSIONS = 3
MAX_WEIGHT = Decimal(10)


def _weight_field(label: str, *, required: bool = True, initial=None) -> forms.DecimalField:
    return forms.DecimalField(
        label=label, required=required, initial=initial, min_value=Decimal(0), max_value=MAX_WEIGHT,
        max_digits=5, decimal_places=2, widget=forms.NumberInput(attrs={"step": "0.5"}),
        error_messages={"min_value": "A weight cannot be negative.",
                        "max_value": f"A weight is at most {MAX_WEIGHT}."})


def _threshold_field(tier: int, initial: float) -> forms.DecimalField:
    return forms.DecimalField(
        label=f"Tier {tier} from score", initial=Decimal(str(initial)), min_value=Decimal(1),
        max_value=Decimal(5), max_digits=4, decimal_places=2, widget=forms.NumberInput(attrs={"step": "0.1"}),
        error_messages={"min_value": "Scores run from 1 to 5.", "max_value": "Scores run from 1 to 5."})


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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key in DEFAULT_DIMENSIONS:
            self.fields[f"weight_{key}"] = _weight_field(dimension_label(key), initial=Decimal(1))
        for n in range(1, EXTRA_DIMENSIONS + 1):
            self.fields[f"extra_{n}_label"] = forms.CharField(
                label=f"Other dimension {n}", required=False, max_length=60)
            self.fields[f"extra_{n}_weight"] = _weight_field(f"Weight of other dimension {n}", required=False)
        for tier, threshold in enumerate(DEFAULT_TIER_THRESHOLDS, start=1):
            self.fields[f"tier_{tier}_from"] = _threshold_field(tier, threshold)
        if self.is_bound:
            # A weight or bound left out of the data altogether (a script, an older page) keeps
            # its default; one sent blank is an error to correct.
            absent = {name: field.initial for name, field in self.fields.items()
                      if name.startswith(("weight_", "tier_")) and name not in self.data}
            if absent:
                self.data = self.data.copy()
                for name, value in absent.items():
                    self.data[name] = str(value)

    def weight_fields(self):
        return [self[f"weight_{key}"] for key in DEFAULT_DIMENSIONS]

    def extra_fields(self):
        return [(self[f"extra_{n}_label"], self[f"extra_{n}_weight"]) for n in range(1, EXTRA_DIMENSIONS + 1)]

    def threshold_fields(self):
        return [self[f"tier_{tier}_from"] for tier in range(1, len(DEFAULT_TIER_THRESHOLDS) + 1)]

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
        data["dimensions"] = self._dimensions(data)
        data["tier_thresholds"] = self._thresholds(data)
        return data

    def _dimensions(self, data) -> list[dict]:
        """The dimensions leaders will rate, with their weights; a weight of 0 leaves one out."""
        dimensions: list[dict[str, Any]] = [
            {"key": key, "label": dimension_label(key), "weight": float(data[f"weight_{key}"])}
            for key in DEFAULT_DIMENSIONS if data.get(f"weight_{key}") is not None]
        labels = {dimension_label(key).casefold() for key in DEFAULT_DIMENSIONS}
        for n in range(1, EXTRA_DIMENSIONS + 1):
            label, weight = (data.get(f"extra_{n}_label") or "").strip(), data.get(f"extra_{n}_weight")
            if not label and weight is None:
                continue
            if not label:
                self.add_error(f"extra_{n}_label", "Name the dimension, or clear its weight.")
            elif weight is None:
                self.add_error(f"extra_{n}_weight", "Give the dimension a weight.")
            elif label.casefold() in labels:
                self.add_error(f"extra_{n}_label", f"There is already a dimension called {label}.")
            else:
                labels.add(label.casefold())
                slug = re.sub(r"[^a-z0-9]+", "_", label.casefold()).strip("_")[:40] or "dimension"
                dimensions.append({"key": f"other_{n}_{slug}", "label": label, "weight": float(weight)})
        weighted = [d for d in dimensions if d["weight"] > 0]
        if not weighted and not any(name.startswith(("weight_", "extra_")) for name in self.errors):
            self.add_error(None, "Give at least one impact dimension a weight above 0.")
        return weighted

    def _thresholds(self, data) -> list[float]:
        bounds = [data.get(f"tier_{tier}_from") for tier in range(1, len(DEFAULT_TIER_THRESHOLDS) + 1)]
        if any(b is None for b in bounds):
            return []
        for tier, (higher, lower) in enumerate(zip(bounds, bounds[1:], strict=False), start=2):
            if lower >= higher:
                self.add_error(f"tier_{tier}_from", f"Tier {tier} must start below tier {tier - 1} ({higher}).")
        return [float(b) for b in bounds]


class LeaderSystemsForm(forms.Form):
    """Which systems in scope one leader's processes depend on (and so which they rate)."""

    all_in_scope = forms.BooleanField(required=False, label="Every system in scope")
    systems = forms.ModelMultipleChoiceField(queryset=BusinessSystem.objects.none(), required=False,
                                             widget=forms.CheckboxSelectMultiple, label="Systems they rate")

    def __init__(self, *args, review: CriticalityReview, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["systems"].queryset = review.systems.order_by("name")  # type: ignore[attr-defined]

    def clean(self):
        data = super().clean()
        if not data.get("all_in_scope") and not data.get("systems"):
            self.add_error("systems", "Choose at least one system, or every system in scope.")
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
        labels = review.dimension_labels
        for system in self.systems:
            rating = ratings.get(system.pk)
            impacts = rating.impacts if rating else {}
            impact_fields = []
            for key in review.dimension_keys:
                name = f"s{system.pk}_{key}"
                self.fields[name] = forms.TypedChoiceField(
                    label=f"{labels[key]} impact of {system.name}", required=False,
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
