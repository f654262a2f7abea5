"""The one validation of a business system and of the budget, used by the pages and the API."""

import re
from collections.abc import Iterable
from decimal import Decimal

from django import forms
from django.db.models.functions import Lower

from bastion.people.models import Person

from .models import BusinessSystem, DataClassification, Hosting, SystemStatus

# Names given in one dependency list; more than this is a mistake, not a system.
MAX_DEPENDENCIES = 500


def split_names(text: str) -> list[str]:
    """System names typed one per line, without blanks or repeats (in any case)."""
    names: dict[str, str] = {}
    for part in re.split(r"[\r\n]+", text or ""):
        if part.strip():
            names.setdefault(part.strip().casefold(), part.strip())
    return list(names.values())


def systems_by_name(names: Iterable[str]) -> tuple[list[BusinessSystem], list[str]]:
    """The systems with these names (any case), and the names no system has."""
    names = list(names)
    found: dict[str, BusinessSystem] = {}
    wanted = [n.casefold() for n in names]
    for start in range(0, len(wanted), 500):
        chunk = BusinessSystem.objects.annotate(lname=Lower("name")).filter(lname__in=wanted[start:start + 500])
        for system in chunk.only("pk", "name"):
            found[system.name.casefold()] = system
    return ([found[n.casefold()] for n in names if n.casefold() in found],
            [n for n in names if n.casefold() not in found])


def unknown_systems_message(missing: list[str]) -> str:
    shown = ", ".join(missing[:20])
    more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
    return f"No system is called {shown}{more}." if len(missing) == 1 else f"No systems are called {shown}{more}."


def reaches(start: Iterable[int], target: int) -> bool:
    """Whether `target` is reachable from `start` by following dependencies (cycles are fine)."""
    through = BusinessSystem.dependencies.through
    edges: dict[int, list[int]] = {}
    for source, dest in through.objects.values_list("from_businesssystem_id", "to_businesssystem_id"):
        edges.setdefault(source, []).append(dest)
    seen: set[int] = set()
    stack = list(start)
    while stack:
        node = stack.pop()
        if node == target:
            return True
        if node in seen:
            continue
        seen.add(node)
        stack.extend(edges.get(node, ()))
    return False


def _hours(label: str, help_text: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label, required=False, min_value=Decimal(0), max_digits=8, decimal_places=2,
        help_text=help_text, error_messages={"min_value": "Enter 0 or more hours."},
    )


def money_field(label: str, help_text: str = "", required: bool = False) -> forms.DecimalField:
    return forms.DecimalField(
        label=label, required=required, min_value=Decimal(0), max_digits=14, decimal_places=2,
        help_text=help_text, error_messages={"min_value": "Enter an amount of 0 or more."},
    )


class SystemForm(forms.Form):
    """Every field of a system in the register, checked the same way for the page and the API."""

    name = forms.CharField(max_length=150)
    description = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    owner_email = forms.EmailField(
        label="Owner's email", required=False, max_length=254,
        help_text="The business owner, a person in the directory.",
    )
    business_processes = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The business processes it serves, one per line.",
    )
    data_classification = forms.ChoiceField(choices=DataClassification.choices,
                                            initial=DataClassification.INTERNAL)
    personal_data = forms.BooleanField(required=False, label="Holds personal data (GDPR)")
    health_data = forms.BooleanField(required=False, label="Holds health data (HIPAA, GDPR art. 9)")
    card_data = forms.BooleanField(required=False, label="Holds payment card data (PCI DSS)")
    financial_reporting = forms.BooleanField(required=False, label="Feeds financial reporting (SOX)")
    users_count = forms.IntegerField(label="Number of users", required=False, min_value=0,
                                     max_value=2_147_483_647,
                                     error_messages={"min_value": "Enter 0 or more users."})
    hosting = forms.ChoiceField(choices=Hosting.choices, initial=Hosting.SAAS)
    hosting_detail = forms.CharField(max_length=200, required=False, help_text="Vendor, region or data centre.")
    depends_on = forms.CharField(
        label="Depends on", required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Names of the systems this one needs in order to work, one per line.",
    )
    rto_hours = _hours("RTO (hours)", "Recovery time objective, as documented.")
    rpo_hours = _hours("RPO (hours)", "Recovery point objective: the data loss tolerated.")
    mtd_hours = _hours("MTD (hours)", "Maximum tolerable downtime.")
    security_spend = money_field("Annual security spend",
                                 "What is spent a year protecting this system (tools, people, services).")
    status = forms.ChoiceField(choices=SystemStatus.choices, initial=SystemStatus.ACTIVE)

    def __init__(self, *args, system: BusinessSystem | None = None, **kwargs):
        self.system = system
        self.warnings: list[str] = []
        if system is not None:
            kwargs.setdefault("initial", self.initial_for(system))
        super().__init__(*args, **kwargs)

    @staticmethod
    def initial_for(system: BusinessSystem) -> dict:
        """The form's values for a system in the register."""
        data = {name: getattr(system, name) for name in SYSTEM_FIELDS if name != "owner"}
        data["owner_email"] = system.owner.email if system.owner_id and system.owner else ""
        data["depends_on"] = "\n".join(system.dependencies.order_by("name").values_list("name", flat=True))
        return data

    def clean_name(self) -> str:
        value = self.cleaned_data["name"].strip()
        if "\n" in value or "\r" in value or ";" in value:
            raise forms.ValidationError("A system name cannot contain line breaks or semicolons.")
        taken = BusinessSystem.objects.filter(name__iexact=value)
        if self.system is not None:
            taken = taken.exclude(pk=self.system.pk)
        if taken.exists():
            raise forms.ValidationError(f"There is already a system called {value}.")
        return value

    def clean_owner_email(self) -> Person | None:
        value = self.cleaned_data["owner_email"]
        if not value:
            return None
        owner = Person.objects.filter(email__iexact=value).first()
        if owner is None:
            raise forms.ValidationError(f"No person in the directory has the email address {value}.")
        return owner

    def clean_depends_on(self) -> list[str]:
        names = split_names(self.cleaned_data["depends_on"])
        if len(names) > MAX_DEPENDENCIES:
            raise forms.ValidationError(f"At most {MAX_DEPENDENCIES} dependencies.")
        return names

    def clean(self):
        data = super().clean()
        names = data.get("depends_on") or []
        own = {n.casefold() for n in (data.get("name"), self.system.name if self.system else None) if n}
        if any(n.casefold() in own for n in names):
            self.add_error("depends_on", "A system cannot depend on itself.")
            names = [n for n in names if n.casefold() not in own]
        dependencies, missing = systems_by_name(names)
        if missing:
            self.add_error("depends_on", unknown_systems_message(missing))
        data["dependencies"] = dependencies
        if self.system is not None and dependencies and reaches([d.pk for d in dependencies], self.system.pk):
            # Allowed (real estates have them), but worth knowing: recovery order is then unclear.
            self.warnings.append(f"{data.get('name') or self.system.name} is now part of a dependency cycle: "
                                 "a system it depends on also depends on it, directly or not.")
        rto, mtd = data.get("rto_hours"), data.get("mtd_hours")
        if rto is not None and mtd is not None and rto > mtd:
            self.warnings.append(f"The RTO ({rto} h) is longer than the maximum tolerable downtime ({mtd} h).")
        return data

    def system_fields(self) -> dict:
        """The cleaned values to store, by model field (owner as a Person)."""
        values = {name: self.cleaned_data[name] for name in SYSTEM_FIELDS if name != "owner"}
        values["owner"] = self.cleaned_data["owner_email"]
        return values


# The register's own fields, as a form sets them (dependencies apart).
SYSTEM_FIELDS = (
    "name", "description", "owner", "business_processes", "data_classification", "personal_data",
    "health_data", "card_data", "financial_reporting", "users_count", "hosting", "hosting_detail",
    "rto_hours", "rpo_hours", "mtd_hours", "security_spend", "status",
)


class BudgetForm(forms.Form):
    """The year's total security budget, and the spend of each system shown on the page."""

    total = money_field("Total security budget", required=True)
    currency = forms.CharField(max_length=3, min_length=3, initial="EUR", help_text="ISO code, e.g. EUR or USD.")

    def __init__(self, *args, systems: Iterable[BusinessSystem] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.systems = list(systems)
        for system in self.systems:
            self.fields[f"spend_{system.pk}"] = money_field(f"Annual security spend on {system.name}")
            self.initial.setdefault(f"spend_{system.pk}", system.security_spend)

    def clean_currency(self) -> str:
        value = self.cleaned_data["currency"].upper()
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise forms.ValidationError("Enter a three-letter currency code such as EUR or USD.")
        return value

    def spend_rows(self) -> list[tuple[BusinessSystem, forms.BoundField]]:
        return [(system, self[f"spend_{system.pk}"]) for system in self.systems]

    def spends(self) -> dict[BusinessSystem, Decimal | None]:
        return {system: self.cleaned_data.get(f"spend_{system.pk}") for system in self.systems}
