"""Who may see and change the phishing simulation. Views and the API get their objects here.

- The security lead and team manage everything: profiles, domains, templates, pages, campaigns.
- Executives read campaigns and their results (what senior management is shown).
- The auditor reads everything (never a profile's SMTP password: nobody sees that).
- A manager with a directory record reads the phishing history of the people who report to
  them, directly or not (``get_person_for_history``), as they follow their training; nothing else.
- Business leaders and employees see nothing; an employee reports their own simulation through
  its link or the mail add-in (``get_recipient_for_report``).
- Reported emails (what employees forwarded to the reporting mailbox: real mail, possibly
  personal) are for the security lead and team alone, who triage them; every other role is
  refused (403), the auditor included. The reporting mailboxes follow the sending profiles:
  the lead and team edit, the auditor reads, nobody sees the password.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from bastion.accounts.models import Role
from bastion.lib.http import MAX_ID
from bastion.people.models import Person

from .models import Campaign, PhishingTemplate, Recipient

_MANAGERS = (Role.SECURITY_LEAD, Role.SECURITY_TEAM)
_CONFIG_READERS = (Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.AUDITOR)
_RESULT_READERS = (Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.AUDITOR, Role.EXECUTIVE)


def can_manage_phishing(user) -> bool:
    return user.is_authenticated and user.has_role(*_MANAGERS)


def can_view_phishing_setup(user) -> bool:
    """Templates, landing pages, sending profiles, domains."""
    return user.is_authenticated and user.has_role(*_CONFIG_READERS)


def can_view_campaigns(user) -> bool:
    return user.is_authenticated and user.has_role(*_RESULT_READERS)


def campaigns_visible_to(user):
    if not can_view_campaigns(user):
        raise PermissionDenied
    return Campaign.objects.all()


def get_campaign_for_view(user, pk: int) -> Campaign:
    try:
        return campaigns_visible_to(user).get(pk=pk)
    except Campaign.DoesNotExist:
        raise Http404 from None


def get_campaign_for_manage(user, pk: int) -> Campaign:
    campaign = get_campaign_for_view(user, pk)
    if not can_manage_phishing(user):
        raise PermissionDenied
    return campaign


def require_manager(user) -> None:
    if not can_manage_phishing(user):
        raise PermissionDenied


def require_setup_reader(user) -> None:
    if not can_view_phishing_setup(user):
        raise PermissionDenied


def templates_visible_to(user):
    if not can_view_phishing_setup(user):
        raise PermissionDenied
    return PhishingTemplate.objects.all()


def get_recipient_for_report(user, token: str) -> Recipient:
    """The sent simulation `token` names, for `user` to report: their own (by their directory
    record) or, for the security team, anyone's (a forwarded report). Anything else is 404,
    so a token's existence is not revealed."""
    if not user.is_authenticated or not user.is_active or not token or len(token) > 64:
        raise Http404
    found = Recipient.objects.filter(token=token, sent_at__isnull=False).first()
    if found is None:
        raise Http404
    if user.has_role(*_MANAGERS):
        return found
    if user.person_id is not None and found.person_id == user.person_id:
        return found
    raise Http404


def get_person_for_history(user, person_id: int) -> Person:
    """The person whose simulations `user` may read: anyone for those who read results, one of
    a manager's people (directly or not) for that manager; 404 for another, 403 for other roles."""
    if can_view_campaigns(user):
        people = Person.objects.all()
    elif user.is_authenticated and user.has_role(Role.MANAGER) and user.person_id is not None:
        people = Person.objects.reporting_to(user.person)
    else:
        raise PermissionDenied
    found = people.filter(pk=person_id).first()
    if found is None:
        raise Http404
    return found


# --- reporting mailbox and reported emails ---------------------------------------------------


def can_triage_reports(user) -> bool:
    return user.is_authenticated and user.has_role(*_MANAGERS)


def reports_visible_to(user):
    if not can_triage_reports(user):
        raise PermissionDenied
    from .models import ReportedEmail

    return ReportedEmail.objects.all()


def get_report_for_triage(user, pk: int, *, message: bool = True):
    """The reported email, for the security team; `message=False` leaves its stored bytes unread."""
    found = reports_visible_to(user) if message else reports_visible_to(user).without_message()
    found = found.filter(pk=pk).first() if 0 < pk <= MAX_ID else None
    if found is None:
        raise Http404
    return found


def mailboxes_visible_to(user):
    require_setup_reader(user)
    from .models import ReportingMailbox

    return ReportingMailbox.objects.all()


def get_mailbox_for_view(user, pk: int):
    found = mailboxes_visible_to(user).filter(pk=pk).first() if 0 < pk <= MAX_ID else None
    if found is None:
        raise Http404
    return found


def get_mailbox_for_manage(user, pk: int):
    mailbox = get_mailbox_for_view(user, pk)
    require_manager(user)
    return mailbox
