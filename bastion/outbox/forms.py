from django import forms

from .models import MessageStatus


class OutboxFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any")] + MessageStatus.choices, required=False)
    to = forms.CharField(label="Recipient", max_length=254, required=False)


class TestEmailForm(forms.Form):
    to = forms.EmailField(
        label="Send a test email to", max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def __init__(self, *args, **kwargs) -> None:
        # Shown on the list page beside the recipient filter: keep the element ids apart.
        kwargs.setdefault("auto_id", "test_%s")
        super().__init__(*args, **kwargs)
