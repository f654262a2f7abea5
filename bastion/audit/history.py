"""An object's recent audit entries, as the detail pages show them."""

from django.db.models import Model

from .access import can_view_audit
from .models import AuditEntry

_EMPTY: tuple[object, ...] = (None, "", [])


def object_history(user, obj: Model, limit: int = 20) -> list[dict] | None:
    """The latest entries for `obj` with their changed fields, or None if `user` may not read
    the audit trail (the page then shows no history section at all)."""
    if not can_view_audit(user):
        return None
    rows = []
    for entry in AuditEntry.objects.for_object(obj)[:limit]:
        before, after = entry.before or {}, entry.after or {}
        # A creation lists every field; the empty ones say nothing.
        changes = [
            {"field": key.replace("_", " "), "before": before.get(key), "after": after.get(key)}
            for key in after if before.get(key) not in _EMPTY or after.get(key) not in _EMPTY
        ]
        rows.append({"entry": entry, "changes": changes})
    return rows
