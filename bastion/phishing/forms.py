"""Forms of the phishing management pages. They turn what was typed into the values the do_*
actions take (times in the viewer's zone, red flags one a line, rules one a line); the actions
and the models check the rest, and their messages are shown beside the field they concern."""

from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError

from bastion.awareness.models import Programme
from bastion.lib.http import parse_id
from bastion.people.models import Group

from .models import Cue, LandingPage, PhishingTemplate, RemedialRule, SendingProfile

TEXTAREA = forms.Textarea(attrs={"rows": 4})
LONG_TEXTAREA = forms.Textarea(attrs={"rows": 12})


class TimeField(forms.DateTimeField):
    """A date and time typed in the viewer's zone (``<input type="datetime-local">``)."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def clean(self, value):
        moment = super().clean(value)
        if moment is not None and not 2000 <= moment.year <= 9998:
            raise ValidationError("Give a date between the year 2000 and 9998.")
        return moment


class ChoiceOfOne(forms.ModelChoiceField):
    """A record chosen by id; anything that is not an id is an invalid choice, never a query."""

    def to_python(self, value):
        if value not in self.empty_values and parse_id(value) is None:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class ChoiceOfSeveral(forms.ModelMultipleChoiceField):
    def _check_values(self, value):
        for item in value:
            if parse_id(item) is None:
                raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice",
                                      params={"value": str(item)[:50]})
        return super()._check_values(value)


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200)
    audience = ChoiceOfOne(queryset=Group.objects.none(), required=False, label="Group",
                                      empty_label="Everyone in the directory",
                                      help_text="Its active people now become the recipients.")
    templates = ChoiceOfSeveral(queryset=PhishingTemplate.objects.none(),
                                               widget=forms.CheckboxSelectMultiple,
                                               help_text="Several: each recipient gets one, in turn.")
    landing_page = ChoiceOfOne(queryset=LandingPage.objects.none(), label="Landing page")
    sending_profile = ChoiceOfOne(queryset=SendingProfile.objects.none(), label="Sending profile")
    starts_at = TimeField(label="Start sending at")
    window_ends_at = TimeField(label="Send window ends at", required=False,
                               help_text="Delivery is spread evenly until then; blank sends all at the start.")
    remedial_programme = ChoiceOfOne(queryset=Programme.objects.none(), required=False,
                                                label="Remedial programme", empty_label="No remedial training")
    remedial_rule = forms.ChoiceField(choices=RemedialRule.choices, label="Assign the remedial programme",
                                      initial=RemedialRule.CLICK)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        fields = self.fields
        fields["audience"].queryset = Group.objects.order_by("name")  # type: ignore[attr-defined]
        fields["templates"].queryset = PhishingTemplate.objects.order_by("name")  # type: ignore[attr-defined]
        fields["landing_page"].queryset = LandingPage.objects.order_by("title")  # type: ignore[attr-defined]
        fields["sending_profile"].queryset = SendingProfile.objects.order_by("name")  # type: ignore[attr-defined]
        fields["remedial_programme"].queryset = (  # type: ignore[attr-defined]
            Programme.objects.filter(remedial=True).order_by("name"))

    def window_minutes(self) -> int:
        """Minutes from the start to the end of the window (negative when it ends first: the
        action refuses that with its own message)."""
        starts, ends = self.cleaned_data["starts_at"], self.cleaned_data.get("window_ends_at")
        if ends is None:
            return 0
        delta: timedelta = ends - starts
        return int(delta.total_seconds() // 60) if delta >= timedelta(0) else -1


class TestSendForm(forms.Form):
    to = forms.EmailField(label="Send a test to", max_length=254,
                          help_text="An address in one of the verified domains; its links record nothing.")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class RedFlagsField(forms.CharField):
    """Red flags one a line, "flag | explanation"; the model says what is wrong with them."""

    widget = TEXTAREA

    def to_python(self, value):
        flags = []
        for line in _lines(super().to_python(value)):
            flag, _, explanation = line.partition("|")
            flags.append({"flag": flag.strip(), "explanation": explanation.strip()})
        return flags

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(f"{f.get('flag', '')} | {f.get('explanation', '')}" for f in value
                             if isinstance(f, dict))
        return value


class TemplateForm(forms.Form):
    name = forms.CharField(max_length=200)
    from_name = forms.CharField(max_length=200, label="From name", help_text="The sender's name the recipient sees.")
    subject = forms.CharField(max_length=300)
    body_text = forms.CharField(max_length=100_000, widget=LONG_TEXTAREA, label="Text body")
    body_html = forms.CharField(max_length=200_000, widget=LONG_TEXTAREA, label="HTML body", required=False)
    difficulty = forms.TypedChoiceField(choices=[(n, str(n)) for n in range(1, 6)], coerce=int, initial=3,
                                        help_text="1 (easy to spot) to 5 (very hard).")
    cues = forms.MultipleChoiceField(choices=Cue.choices, required=False, widget=forms.CheckboxSelectMultiple,
                                     label="Cues the lure uses")
    red_flags = RedFlagsField(required=False, max_length=100_000, label="Red flags",
                              help_text="One a line: the flag, a | and its explanation, e.g. "
                                        "“Urgency | ‘today’ pushes you to act before you think”. "
                                        "Shown on the landing page.")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        names = ", ".join("{{" + n + "}}" for n in ("first_name", "last_name", "manager", "department", "link",
                                                    "report_link"))
        self.fields["body_text"].help_text = f"Placeholders: {names}. It needs a {{{{link}}}}."
        self.fields["body_html"].help_text = (f"Optional. Placeholders: {names} and {{{{pixel}}}} (the open "
                                              "tracker). Shown in a sandbox, scripts never run.")


class LandingPageForm(forms.Form):
    title = forms.CharField(max_length=200)
    body_markdown = forms.CharField(max_length=100_000, widget=LONG_TEXTAREA, label="What the page teaches",
                                    help_text="Markdown: the red flags, what to do next time, how to report. "
                                              "The template's own red flags are listed after it.")
    shows_form = forms.BooleanField(required=False, label="Show a fake sign-in form first (nothing typed is ever "
                                                          "sent or stored)")


class SendingProfileForm(forms.Form):
    name = forms.CharField(max_length=200)
    smtp_url = forms.CharField(max_length=500, label="SMTP URL",
                               help_text="smtp://user:password@host:587?tls=1 or smtps://user:password@host:465")
    from_address = forms.EmailField(label="From address", max_length=254)
    rate_per_second = forms.IntegerField(min_value=1, max_value=10_000, initial=50, label="Messages a second")

    def __init__(self, *args, editing: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["smtp_url"].help_text = ("The password is never shown: leave it out to keep the stored one "
                                                 "(same user and host), or type the URL with a new one.")


class DomainForm(forms.Form):
    domain = forms.CharField(max_length=253, label="Mail domain", help_text="e.g. example.com; its subdomains count.")


class TrackingRulesForm(forms.Form):
    too_soon_seconds = forms.IntegerField(min_value=0, max_value=3600, label="Too soon (seconds after delivery)",
                                          help_text="A hit this soon after the message was sent is automated.")
    scanner_agents = forms.CharField(required=False, widget=LONG_TEXTAREA, max_length=100_000,
                                     label="Scanner user agents",
                                     help_text="One fragment a line, matched case-insensitively.")
    scanner_networks = forms.CharField(required=False, widget=TEXTAREA, max_length=100_000,
                                       label="Scanner networks", help_text="One CIDR block a line, e.g. 192.0.2.0/24.")

    no_human_signal = forms.BooleanField(required=False, label="Flag clicks no person followed up on the landing "
                                                                "page (judges clicks from when it is switched on)")
    no_human_signal_seconds = forms.IntegerField(min_value=10, max_value=86400, initial=120, required=False,
                                                 label="Wait for a human signal (seconds)",
                                                 help_text="How long after a click the landing page may show a "
                                                           "person was there. Blank keeps the current wait.")

    def clean_scanner_agents(self) -> list[str]:
        return _lines(self.cleaned_data["scanner_agents"])

    def clean_scanner_networks(self) -> list[str]:
        return _lines(self.cleaned_data["scanner_networks"])
