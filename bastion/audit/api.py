"""GET /api/v1/audit: the audit trail, read-only, for auditors and the security lead."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import LimitOffsetPagination, paginate

from . import access
from .models import AuditEntry

router = Router()


class AuditEntryOut(Schema):
    seq: int
    at: datetime
    actor_id: int | None
    actor_label: str
    action: str
    object_type: str
    object_id: str
    object_repr: str
    before: Any = None
    after: Any = None
    ip: str | None
    prev_hash: str
    hash: str


class AuditFilters(Schema):
    action: str = ""
    actor: str = ""
    object_type: str = ""
    object_id: str = ""
    since: str = ""
    until: str = ""
    order: Literal["newest", "oldest"] = "newest"


class BoundedLimitOffset(LimitOffsetPagination):
    """Ninja's limit/offset paging with an offset the database can take (422 beyond it)."""

    class Input(LimitOffsetPagination.Input):
        offset: int = Field(0, ge=0, le=10_000_000)


def parse_time(name: str, value: str, *, end: bool) -> datetime | None:
    """YYYY-MM-DD (a whole UTC day) or an ISO 8601 date-time (UTC unless it names an offset).

    For `until`, a date includes that whole day.
    """
    value = value.strip()
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            if end:
                day += timedelta(days=1)
            return datetime.combine(day, time.min, tzinfo=UTC)
        when = datetime.fromisoformat(value)
        # In UTC now, so a time at the calendar's edge fails here rather than in the database.
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise HttpError(400, f"{name}: {value[:40]!r} is not a date (YYYY-MM-DD) or an ISO 8601 "
                             "date-time (e.g. 2026-03-01T09:30:00Z).") from None


@router.get(
    "", response=list[AuditEntryOut], summary="List audit entries",
    description=(
        "Newest first (`order=oldest` for oldest first, which suits incremental export). "
        "`action` matches a prefix (`login` finds `login.failed`), `actor` a part of the actor's "
        "email or label; `object_type` and `object_id` match exactly. `since` (inclusive) and "
        "`until` (exclusive; a plain date includes that whole day) take YYYY-MM-DD or ISO 8601 "
        "date-times, UTC unless an offset is given. Auditors and the security lead only."
    ),
)
@paginate(BoundedLimitOffset)
def list_entries(request, filters: Query[AuditFilters]):
    entries = access.audit_entries_visible_to(request.user)
    since = parse_time("since", filters.since, end=False)
    until = parse_time("until", filters.until, end=True)
    entries = entries.matching(
        action=filters.action.strip(), actor=filters.actor.strip(),
        object_type=filters.object_type.strip(), object_id=filters.object_id.strip(),
        since=since, until=until,
    )
    return entries.order_by("seq" if filters.order == "oldest" else "-seq")


@router.get("/{int:seq}", response=AuditEntryOut, summary="One audit entry")
def get_entry(request, seq: int):
    try:
        return access.audit_entries_visible_to(request.user).get(seq=seq)
    except AuditEntry.DoesNotExist:
        raise HttpError(404, "No audit entry with this number.") from None
