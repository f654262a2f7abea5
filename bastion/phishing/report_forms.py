"""Forms of the reporting-mailbox and triage pages. They turn what was typed into the values
reports.py's do_* actions take; the actions and the models check the rest."""

from django import forms

from bastion.accounts.models import User

from .models import MailboxSecurity, ReportStatus, ReportVerdict
from .reports import analysts


class MailboxForm(forms.Form):
    name = forms.CharField(max_length=200)
    host = forms.CharField(max_length=253, label="IMAP host")
    port = forms.IntegerField(min_value=1, max_value=65535, initial=993)
    security = forms.ChoiceField(choices=MailboxSecurity.choices, initial=MailboxSecurity.TLS, label="Encryption")
    allow_plaintext = forms.BooleanField(required=False, label="Allow plaintext to a host that is not loopback",
                                         help_text="The password and the mail would cross the network unencrypted.")
    username = forms.CharField(max_length=200, label="User name")
    password = forms.CharField(max_length=500, required=False, strip=False,
                               widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}))
    folder = forms.CharField(max_length=200, initial="INBOX", label="Folder to read")
    processed_folder = forms.CharField(max_length=200, required=False, label="Move processed mail to",
                                       help_text="Blank: processed mail stays where it is, flagged as seen and "
                                                 "$BastionProcessed.")
    enabled = forms.BooleanField(required=False, initial=True, label="Read this mailbox every minute")
    trusted_authserv_id = forms.CharField(
        max_length=253, required=False, label="Your mail server's authserv-id",
        help_text="The name your own mail server writes first in the Authentication-Results header it adds "
                  "(and removes from incoming mail). A reporter is shown as verified, and may be thanked by "
                  "email, only when that server passed DMARC, or DKIM or SPF for the From domain. Blank: every "
                  "reporter is unverified.")

    def __init__(self, *args, editing: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["password"].help_text = (
            "Never shown: leave it blank to keep the stored one, unless you change the server, port, encryption "
            "or user name." if editing else "Stored to log in; never shown back.")
        self.fields["password"].required = not editing


class TriageForm(forms.Form):
    status = forms.ChoiceField(choices=ReportStatus.choices)
    verdict = forms.ChoiceField(choices=ReportVerdict.choices, required=False)
    assigned_to: forms.ModelChoiceField = forms.ModelChoiceField(queryset=User.objects.none(), required=False,
                                                                 label="Analyst", empty_label="Nobody")
    note = forms.CharField(required=False, max_length=20_000, widget=forms.Textarea(attrs={"rows": 4}))
    thank = forms.BooleanField(required=False, label="Thank the reporter by email",
                               help_text="Once, with the verdict if there is one; only to someone in the directory "
                                         "whose address your mail server verified.")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assigned_to"].queryset = analysts()  # type: ignore[attr-defined]
        self.fields["assigned_to"].label_from_instance = lambda u: f"{u.full_name or u.email} ({u.email})"  # type: ignore[attr-defined]
