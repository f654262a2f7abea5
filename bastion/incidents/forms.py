"""Forms of the incident pages. They turn what was typed into the values the do_* actions take
(people from the directory by email, times in the viewer's zone); the actions check the rest and
their messages are shown beside the form."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from bastion.accounts.models import User
from bastion.people.models import Person
from bastion.response.content import CHANNELS, CLOCKS, FACTS, REGULATED_DATA_KINDS
from bastion.systems.models import BusinessSystem

from .models import DERIVED_CLOCKS, ActionItemStatus, Audience, Confidence, LawEnforcementDecision

TEXTAREA = forms.Textarea(attrs={"rows": 3})
DATA_CHOICES = [(k, k.replace("_", " ").capitalize()) for k in REGULATED_DATA_KINDS]
BOOL_FACTS = [name for name, fact in FACTS.items() if fact.kind == "bool"]
# Clocks one sets by hand (liability_flagged starts itself when corporate liability is flagged).
EDITABLE_CLOCKS = [name for name in CLOCKS if name not in DERIVED_CLOCKS]


class TimeField(forms.DateTimeField):
    """A date and time typed in the viewer's zone (``<input type="datetime-local">``)."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def clean(self, value):
        moment = super().clean(value)
        # Outside these years a time cannot be shown in every zone (nor is it an incident's).
        if moment is not None and not 1970 <= moment.year <= 9998:
            raise ValidationError("Give a date between 1970 and today.")
        return moment


def local_now():
    return timezone.localtime().replace(second=0, microsecond=0)


class PersonField(forms.EmailField):
    """A person of the directory, named by their email."""

    def clean(self, value):
        email = super().clean(value)
        if not email:
            return None
        person = Person.objects.filter(email__iexact=email).first()
        if person is None:
            raise ValidationError(f"Nobody in the people directory has the address {email}.")
        return person


def systems_field() -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        queryset=BusinessSystem.objects.order_by("name").only("pk", "name"), required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}), help_text="Hold Ctrl (⌘ on a Mac) to choose several.")


class DeclareForm(forms.Form):
    title = forms.CharField(max_length=200)
    summary = forms.CharField(label="What is known", widget=TEXTAREA, max_length=20_000)
    detected_at = TimeField(label="Detected at")
    reporter = PersonField(label="Reported by (email in the directory)")
    type_key = forms.ChoiceField(label="Type")
    affected_systems = forms.ModelMultipleChoiceField(queryset=BusinessSystem.objects.none())
    data_involved = forms.MultipleChoiceField(choices=DATA_CHOICES, required=False, label="Data involved",
                                              widget=forms.CheckboxSelectMultiple)
    incident_commander = PersonField(required=False, label="Incident commander (email in the directory)")
    restricted = forms.BooleanField(required=False, label="Restricted (need to know: only you and members see it)")

    def __init__(self, *args, types: list[dict], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["type_key"] = forms.ChoiceField(label="Type", choices=[(t["key"], t.get("name") or t["key"])
                                                                           for t in types])
        self.fields["affected_systems"] = systems_field()


class FactsForm(forms.Form):
    """Facts and clocks, type, severity (with a reason when it differs from the suggestion),
    data involved and affected systems."""

    type_key = forms.ChoiceField(label="Type")
    severity = forms.ChoiceField()
    severity_reason = forms.CharField(required=False, widget=TEXTAREA, label="Why this severity",
                                      help_text="Required when it differs from the suggestion.")
    affected_systems = forms.ModelMultipleChoiceField(queryset=BusinessSystem.objects.none())
    data_involved = forms.MultipleChoiceField(choices=DATA_CHOICES, required=False, label="Data involved",
                                              widget=forms.CheckboxSelectMultiple)
    jurisdictions = forms.CharField(required=False, max_length=500,
                                    help_text="Two-letter country codes, or EU / EEA, separated by commas.")
    individuals_affected = forms.IntegerField(required=False, min_value=0, label="Individuals affected")

    def __init__(self, data=None, *, incident) -> None:
        content = incident.content
        facts = incident.facts
        initial = {
            "type_key": incident.type_key, "severity": incident.severity,
            "severity_reason": incident.severity_reason, "data_involved": incident.data_involved,
            "affected_systems": list(incident.affected_systems.all()),
            "jurisdictions": ", ".join(facts.get("jurisdictions", [])),
            "individuals_affected": facts.get("individuals_affected"),
            **{f"fact_{name}": bool(facts.get(name)) for name in BOOL_FACTS},
            **{f"clock_{name}": incident.clock_times().get(name) for name in EDITABLE_CLOCKS},
        }
        super().__init__(data, initial=initial)
        self.incident = incident
        self.fields["type_key"] = forms.ChoiceField(label="Type", choices=[
            (t["key"], t.get("name") or t["key"]) for t in content.get("incident_types", [])])
        self.fields["severity"] = forms.ChoiceField(choices=[
            (s["key"], s.get("name") or s["key"]) for s in content.get("severities", [])])
        self.fields["affected_systems"] = systems_field()
        for name in BOOL_FACTS:
            label = FACTS[name].help
            if name == "corporate_liability_possible":
                label += " (General Counsel and CEO must then be told)"
            self.fields[f"fact_{name}"] = forms.BooleanField(required=False, label=label)
        for name in EDITABLE_CLOCKS:
            self.fields[f"clock_{name}"] = TimeField(required=False, label=f"Time of {CLOCKS[name]}")

    def bool_fields(self):
        return [self[f"fact_{name}"] for name in BOOL_FACTS]

    def clock_fields(self):
        return [self[f"clock_{name}"] for name in EDITABLE_CLOCKS]

    def clean_jurisdictions(self) -> list[str]:
        return [c.strip().upper() for c in self.cleaned_data["jurisdictions"].split(",") if c.strip()]

    def changes(self) -> dict:
        """The keyword arguments of do_update_facts. An unticked fact or empty clock removes one
        that was recorded; one never recorded stays absent."""
        data, old = self.cleaned_data, self.incident
        facts: dict = {name: True for name in BOOL_FACTS if data[f"fact_{name}"]}
        facts |= {name: False for name in BOOL_FACTS if not data[f"fact_{name}"] and name in old.facts}
        if data["jurisdictions"] or "jurisdictions" in old.facts:
            facts["jurisdictions"] = data["jurisdictions"] or None
        if data["individuals_affected"] is not None or "individuals_affected" in old.facts:
            facts["individuals_affected"] = data["individuals_affected"]
        clocks = {name: data[f"clock_{name}"] for name in EDITABLE_CLOCKS
                  if data[f"clock_{name}"] is not None or name in old.clocks}
        return {"facts": facts, "clocks": clocks, "type_key": data["type_key"], "severity": data["severity"],
                "severity_reason": data["severity_reason"], "data_involved": data["data_involved"],
                "affected_systems": list(data["affected_systems"])}


class TeamForm(forms.Form):
    """The whole team as it should be: an emptied role leaves it empty. A restricted incident's
    members are added by their sign-in email and removed by ticking them."""

    incident_commander = PersonField(required=False, label="Incident commander (email in the directory)")
    scribe = PersonField(required=False, label="Scribe (email in the directory)")
    liaison = PersonField(required=False, label="Liaison (email in the directory)")
    legal = PersonField(required=False, label="Legal (email in the directory)")
    add_members = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=20_000,
                                  label="Add members (their sign-in email, one a line)")
    remove_members = forms.TypedMultipleChoiceField(required=False, coerce=int, widget=forms.CheckboxSelectMultiple,
                                                    label="Remove members")

    def __init__(self, data=None, *, incident, members_rule: str = "") -> None:
        members = list(incident.members.order_by("email"))
        super().__init__(data, initial={role: getattr(incident, role).email if getattr(incident, role) else ""
                                        for role in ("incident_commander", "scribe", "liaison", "legal")})
        self.members = members
        if incident.restricted:
            remove = self.fields["remove_members"]
            assert isinstance(remove, forms.TypedMultipleChoiceField)
            remove.choices, remove.help_text = [(u.pk, u.email) for u in members], members_rule
        else:
            del self.fields["add_members"], self.fields["remove_members"]

    def clean_add_members(self) -> list[User]:
        emails = [e.strip().lower() for e in self.cleaned_data["add_members"].replace(",", "\n").splitlines()
                  if e.strip()]
        users = {u.email: u for u in User.objects.filter(email__in=emails)}
        unknown = [e for e in emails if e not in users]
        if unknown:
            raise ValidationError(f"No user has the address {', '.join(unknown)}.")
        return list(users.values())

    def clean_remove_members(self) -> list[User]:
        chosen = set(self.cleaned_data["remove_members"])
        return [u for u in self.members if u.pk in chosen]

    def people(self) -> dict:
        return {role: self.cleaned_data[role] for role in ("incident_commander", "scribe", "liaison", "legal")}


class DeviationForm(forms.Form):
    """A step done, skipped or done differently; a deviation needs the full explanation, who
    decided and when (the action says when one is needed)."""

    note = forms.CharField(required=False, widget=TEXTAREA, max_length=20_000)
    explanation = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 5}), max_length=20_000,
        label="Full explanation of the deviation",
        help_text="Why the plan was not appropriate, what was done instead and the risk accepted.")
    decided_by = PersonField(required=False, label="Who decided (email in the directory)")
    decided_at = TimeField(required=False, label="When it was decided")


class NotificationDoneForm(forms.Form):
    notified_by = PersonField(label="Who notified them (email in the directory)")
    notified_whom = forms.CharField(max_length=300, label="Whom exactly (name, office, reference)")
    notified_at = TimeField(label="When")
    channel = forms.ChoiceField(choices=list(CHANNELS.items()), label="How")
    what_was_said = forms.CharField(widget=TEXTAREA, max_length=20_000, label="What was said")


class SendNotificationForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), max_length=20_000, label="Message",
                           help_text="Sent exactly as written, and recorded as what they were told.")


class NotRequiredForm(forms.Form):
    reason = forms.CharField(widget=TEXTAREA, max_length=20_000, label="Why it is not required")


class TimelineEntryForm(forms.Form):
    text = forms.CharField(widget=TEXTAREA, max_length=20_000, label="What happened")
    event_at = TimeField(required=False, label="When it happened (empty: now)")
    evidence = forms.FileField(required=False, label="Evidence file", help_text="Stored with its SHA-256.")


class LawEnforcementForm(forms.Form):
    decision = forms.ChoiceField(choices=LawEnforcementDecision.choices)
    rationale = forms.CharField(widget=TEXTAREA, max_length=20_000, label="Why")
    contact = forms.CharField(required=False, max_length=300, label="Law-enforcement contact and reference")
    decided_by = PersonField(label="Who decided (email in the directory)")
    decided_at = TimeField(label="When it was decided")


class StatusForm(forms.Form):
    status = forms.CharField(max_length=16)
    note = forms.CharField(required=False, max_length=20_000)


class StatusUpdateForm(forms.Form):
    """A status update in its one honest structure, and who it goes to."""

    what_happened = forms.CharField(widget=TEXTAREA, max_length=20_000, label="What happened")
    containment = forms.CharField(widget=TEXTAREA, max_length=20_000, label="What is being done to contain it")
    impact = forms.CharField(widget=TEXTAREA, max_length=20_000, label="How bad it looks")
    confidence = forms.ChoiceField(choices=Confidence.choices, label="How confident we are")
    unknowns = forms.CharField(widget=TEXTAREA, max_length=20_000, label="What is not known yet",
                               help_text="Say so if nothing.")
    next_update_at = TimeField(required=False, label="When the next update comes",
                               help_text="Required unless this is the final update.")
    final = forms.BooleanField(required=False, label="Final update: the incident is resolved, no further update "
                                                     "follows (no next update time, no reminder)")
    audiences = forms.MultipleChoiceField(choices=Audience.choices, widget=forms.CheckboxSelectMultiple,
                                          label="Send to")
    customer_addresses = forms.CharField(
        required=False, widget=TEXTAREA, max_length=200_000, label="Customer list",
        help_text="Email addresses, one a line or separated by commas (for the customer list only).")
    beyond_members = forms.BooleanField(
        required=False, label="This incident is restricted: I confirm sending beyond its members")
    corrects = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1)

    def clean_customer_addresses(self) -> list[str]:
        text = self.cleaned_data["customer_addresses"]
        return [a.strip() for a in text.replace(",", "\n").replace(";", "\n").splitlines() if a.strip()]


class ReviewForm(forms.Form):
    """The post-incident review's text; its action items come in ActionItemFormSet."""

    root_cause = forms.CharField(required=False, widget=TEXTAREA, max_length=20_000, label="Root cause")
    what_worked = forms.CharField(required=False, widget=TEXTAREA, max_length=20_000, label="What worked")
    what_did_not = forms.CharField(required=False, widget=TEXTAREA, max_length=20_000, label="What did not work")
    plan_should_change = forms.TypedChoiceField(
        required=False, label="Having reviewed the deviations, should the plan change?",
        choices=[("", "Not decided yet"), ("yes", "Yes"), ("no", "No")],
        coerce=lambda v: {"yes": True, "no": False}.get(v), empty_value=None)
    plan_changes = forms.CharField(required=False, widget=TEXTAREA, max_length=20_000,
                                   label="What should change in the plan")
    complete = forms.BooleanField(required=False, label="The review is complete")


class ActionItemForm(forms.Form):
    id = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1)
    title = forms.CharField(max_length=300, label="Action")
    owner = PersonField(label="Owner (email in the directory)")
    due_date = forms.DateField(label="Due", widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(choices=ActionItemStatus.choices, initial=ActionItemStatus.OPEN)


# Extra blank rows for new action items; a row left blank is ignored, "Remove" drops a saved one.
ActionItemFormSet = forms.formset_factory(ActionItemForm, extra=2, can_delete=True, max_num=200,
                                          absolute_max=200, validate_max=True)


class WaiverForm(forms.Form):
    reason = forms.CharField(widget=TEXTAREA, max_length=20_000, label="Why the review is waived")
