"""Writes about the reporting mailbox and the reported emails, each in one transaction with its
audit entry: a mailbox's settings (the password is kept when the form leaves it blank and never
written to the audit trail) and the triage of a reported email (status by an explicit map,
verdict, note, assigned analyst)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from bastion.accounts.models import Role, User
from bastion.audit.chain import record
from bastion.lib.emails import queue_email

from .models import REPORT_TRANSITIONS, ReportedEmail, ReportingMailbox, ReportStatus, ReportVerdict

MAILBOX_FIELDS = ("name", "host", "port", "security", "allow_plaintext", "username", "folder", "processed_folder",
                  "enabled", "trusted_authserv_id")
# Where the stored password would be sent: changing any of them needs the password typed again,
# or a team member could point the mailbox at their own server and have Bastion log in there.
CONNECTION_FIELDS = ("host", "port", "security", "allow_plaintext", "username")


def _settings(mailbox: ReportingMailbox) -> dict:
    return {f: getattr(mailbox, f) for f in MAILBOX_FIELDS}


def do_save_mailbox(mailbox: ReportingMailbox | None, *, acting_user, password: str = "",
                    **fields) -> ReportingMailbox:
    """Create (`mailbox` None) or change a reporting mailbox. A blank `password` keeps the
    stored one, only while the connection (CONNECTION_FIELDS) is unchanged. ValidationError per field, nothing saved, if anything is wrong (a plaintext
    connection to a host that is not loopback without the explicit allowance, among others)."""
    creating = mailbox is None
    mailbox = mailbox or ReportingMailbox(created_by=acting_user)
    before = None if creating else _settings(mailbox)
    for name, value in fields.items():
        if name not in MAILBOX_FIELDS:
            raise TypeError(f"Unknown mailbox field {name}")
        setattr(mailbox, name, value.strip() if isinstance(value, str) else value)
    if password:
        mailbox.password = password
    if creating and not mailbox.password:
        raise ValidationError({"password": "Give the mailbox's password."})
    if before is not None and not password and any(before[f] != getattr(mailbox, f) for f in CONNECTION_FIELDS):
        raise ValidationError({"password": "Type the password again: the server, port, encryption or user name "
                                           "changed, and the stored password is only ever sent where it was "
                                           "given for."})
    for name in ("username", "password"):  # IMAP LOGIN takes ASCII
        if not getattr(mailbox, name).isascii():
            raise ValidationError({name: f"The {name.replace('username', 'user name')} must be ASCII characters only."})
    mailbox.full_clean()
    with transaction.atomic():
        mailbox.save()
        after = {**_settings(mailbox), "password_changed": bool(password) and not creating}
        record("phishing.mailbox_created" if creating else "phishing.mailbox_changed", actor=acting_user,
               obj=mailbox, before=before, after=after)
    return mailbox


def analysts():
    """Who a reported email may be assigned to: the security lead and team, active."""
    return User.objects.filter(is_active=True, role__in=[Role.SECURITY_LEAD, Role.SECURITY_TEAM]).order_by("email")


def do_triage(report: ReportedEmail, *, acting_user, status: str | None = None, verdict: str | None = None,
              note: str | None = None, assign: bool = False, assigned_to: User | None = None,
              thank: bool = False) -> ReportedEmail:
    """Change a reported email's status (new → triaging → resolved, reopened to triaging),
    verdict, note and, when `assign`, the analyst (`assigned_to`; None: nobody). Resolving
    needs a verdict. `thank` emails the reporter a thank-you through the outbox, once, and only
    to a reporter found in the directory whose address the organisation's mail server
    authenticated (never to an address a sender could have forged); it never quotes the subject.
    ValidationError, fit to show, when a change is refused; nothing is saved."""
    with transaction.atomic():
        report = ReportedEmail.objects.select_for_update().get(pk=report.pk)
        before = {"status": report.status, "verdict": report.verdict, "note": report.note,
                  "assigned_to": report.assigned_to.email if report.assigned_to else None}
        errors: dict[str, str] = {}
        if status is not None and status != report.status:
            if status not in ReportStatus.values:
                errors["status"] = "Choose new, triaging or resolved."
            elif status not in REPORT_TRANSITIONS[report.status]:
                errors["status"] = (f"A {report.get_status_display().lower()} report cannot become "
                                    f"{ReportStatus(status).label.lower()}.")
            else:
                report.status = status
        if verdict is not None:
            if verdict not in ReportVerdict.values:
                errors["verdict"] = "Choose phishing, spam, harmless or simulation."
            else:
                report.verdict = verdict
        if note is not None:
            if len(note) > 20_000:
                errors["note"] = "A note is at most 20,000 characters."
            else:
                report.note = note.strip()
        if assign:
            if assigned_to is not None and not analysts().filter(pk=assigned_to.pk).exists():
                errors["assigned_to"] = "Assign it to an active member of the security team."
            else:
                report.assigned_to = assigned_to
        if report.status == ReportStatus.RESOLVED and not report.verdict and "status" not in errors:
            errors["verdict"] = "Give a verdict before resolving the report."
        thanking = thank and report.thanked_at is None
        if thanking and (report.reporter is None or not report.reporter.email):
            errors["thank"] = "Only a reporter found in the directory is thanked by email."
        elif thanking and not report.reporter_verified:
            errors["thank"] = ("The reporter's address is unverified (your mail server did not authenticate it): "
                               "anyone could have written it, so no thank-you is sent.")
        if errors:
            raise ValidationError(errors)
        after = {"status": report.status, "verdict": report.verdict, "note": report.note,
                 "assigned_to": report.assigned_to.email if report.assigned_to else None}
        if after == before and not thanking:
            return report
        now = timezone.now()
        report.triaged_at, report.triaged_by = now, acting_user
        if thanking:
            assert report.reporter is not None
            report.thanked_at = now
            after["thanked"] = report.reporter.email
            # Never the subject: it is the sender's text, not ours.
            queue_email(report.reporter.email, "phishing_report_thanks", {
                "first_name": report.reporter.first_name, "reported_on": report.received_at,
                "verdict": report.get_verdict_display() if report.verdict else ""})
        report.save(update_fields=["status", "verdict", "note", "assigned_to", "triaged_at", "triaged_by",
                                   "thanked_at"])
        record("phishing.report_triaged", actor=acting_user, obj=report, before=before, after=after)
    return report
