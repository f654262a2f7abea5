"""Where the plan's emails point. The pages are not built yet; these paths are the contract the
plan pages will serve (kept in this one place so the emails and the pages agree):

- ``/plan/``                         the plan in force, and its draft for those who edit it;
- ``/plan/versions/<n>/``            one version (approvers review it here);
- ``/plan/acknowledge/<token>/``     a reader's signed link (purpose ``plan-acknowledge``,
                                     subject the person's id) to read and acknowledge the
                                     version in force without signing in.
"""

from datetime import datetime, timedelta

from bastion.lib.tokens import make_link_token, read_link_token

ACKNOWLEDGE_PURPOSE = "plan-acknowledge"
ACKNOWLEDGE_LINK_LIFETIME = timedelta(days=30)


def plan_path() -> str:
    return "/plan/"


def version_path(number: int) -> str:
    return f"/plan/versions/{number}/"


def acknowledge_link_path(person_id: int, *, now: datetime | None = None) -> str:
    """The path (no host) of a fresh signed link for the person to acknowledge the plan in force."""
    token = make_link_token(ACKNOWLEDGE_PURPOSE, person_id, expires_in=ACKNOWLEDGE_LINK_LIFETIME, now=now)
    return f"/plan/acknowledge/{token}/"


def person_id_from_acknowledge_token(token: str, *, now: datetime | None = None) -> int:
    """The person a signed acknowledgement link was made for (LinkTokenError if it is not valid)."""
    return int(read_link_token(token, ACKNOWLEDGE_PURPOSE, now=now).subject_id)
