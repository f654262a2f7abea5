"""Where the plan's emails point. These paths are the contract the plan pages serve (kept in this
one place so the emails and the pages agree):

- ``/plan/``                         the plan in force, and its draft for those who edit it;
- ``/plan/versions/<n>/``            one version (approvers review it here);
- ``/plan/acknowledge/<token>/``     a reader's signed link (purpose ``plan-acknowledge``,
                                     subject ``"<person id>/<version number>"``) to read and
                                     acknowledge that version without signing in.

An acknowledgement link is good for the version it was sent for, while that version is in
force, and for a person still in the directory: once a new version is published, an old email's
link is refused with a message pointing to the plan, and a leaver's link is refused. Links made
before the version was part of the token (subject the person's id alone) are honoured only if the
version in force was published before the link was made, i.e. the email was sent for it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from bastion.lib.tokens import LinkTokenError, make_link_token, read_link_token

ACKNOWLEDGE_PURPOSE = "plan-acknowledge"
ACKNOWLEDGE_LINK_LIFETIME = timedelta(days=30)


class StaleAcknowledgeLink(LinkTokenError):
    """A genuine link for a version that is no longer in force (or before any is)."""


class LeaverAcknowledgeLink(LinkTokenError):
    """A genuine link for someone who is no longer in the directory as active staff."""

    message = "This link is for someone who is no longer in the directory."


@dataclass(frozen=True)
class AcknowledgeLink:
    """What a verified acknowledgement link is for: a person and a version number (None for a
    link made before versions were part of it)."""

    person_id: int
    version_number: int | None
    issued_at: datetime


def plan_path() -> str:
    return "/plan/"


def version_path(number: int) -> str:
    return f"/plan/versions/{number}/"


def acknowledge_link_path(person_id: int, version_number: int | None = None, *, now: datetime | None = None) -> str:
    """The path (no host) of a fresh signed link for the person to acknowledge the version
    (default: the version in force; with none in force, a link good for none published before it)."""
    if version_number is None:
        version_number = _version_in_force_number()
    subject: int | str = person_id if version_number is None else f"{person_id}/{version_number}"
    token = make_link_token(ACKNOWLEDGE_PURPOSE, subject, expires_in=ACKNOWLEDGE_LINK_LIFETIME, now=now)
    return f"/plan/acknowledge/{token}/"


def read_acknowledge_token(token: str, *, now: datetime | None = None) -> AcknowledgeLink:
    """What a signed acknowledgement link says, signature and expiry checked (LinkTokenError if
    not valid); it does not check that the version is still in force (see check_acknowledge_token)."""
    claim = read_link_token(token, ACKNOWLEDGE_PURPOSE, now=now)
    subject = claim.subject_id
    try:
        if isinstance(subject, int):
            return AcknowledgeLink(subject, None, claim.issued_at)
        person, version = str(subject).split("/")
        return AcknowledgeLink(int(person), int(version), claim.issued_at)
    except ValueError:
        raise LinkTokenError() from None


def check_acknowledge_token(token: str, *, now: datetime | None = None, check_person: bool = True,
                            require_version: bool = True) -> AcknowledgeLink:
    """The link's person and version, refused (LinkTokenError with a message fit to show) when
    the link is not valid, its version is no longer (or not yet) the one in force, or its person
    has left (unless ``check_person`` is false). With ``require_version`` false, a link when no
    version is in force passes (the caller says so itself)."""
    from bastion.people.models import Person, PersonStatus

    from .models import Plan

    link = read_acknowledge_token(token, now=now)
    plan = Plan.current()
    in_force = plan.published() if plan is not None else None
    if in_force is None:
        if not require_version:
            return link
        raise StaleAcknowledgeLink("No version of the plan is in force: there is nothing to acknowledge.")
    if link.version_number is None:
        fresh = in_force.published_at is not None and in_force.published_at <= link.issued_at
        if not fresh:
            raise StaleAcknowledgeLink(f"This link was sent for an earlier version; version {in_force.number} is now "
                                       "in force — open the plan to acknowledge it.")
    elif link.version_number != in_force.number:
        raise StaleAcknowledgeLink(f"This link was for version {link.version_number}; version {in_force.number} is "
                                   "now in force — open the plan to acknowledge it.")
    if check_person and not Person.objects.filter(pk=link.person_id, status=PersonStatus.ACTIVE).exists():
        raise LeaverAcknowledgeLink()
    return link


def person_id_from_acknowledge_token(token: str, *, now: datetime | None = None) -> int:
    """The person a signed acknowledgement link was made for (LinkTokenError if it is not
    valid, or StaleAcknowledgeLink if it was for a version no longer in force). The caller
    still refuses leavers and the case of no version in force (the acknowledge page does, and
    do_acknowledge refuses leavers too)."""
    return check_acknowledge_token(token, now=now, check_person=False, require_version=False).person_id


def _version_in_force_number() -> int | None:
    from .models import Plan

    plan = Plan.current()
    version = plan.published() if plan is not None else None
    return version.number if version is not None else None
