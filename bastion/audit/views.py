"""The audit trail pages: a filtered list, one entry, chain verification and CSV export."""

import csv
import json
import re
from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST, require_safe

from bastion.lib.spreadsheet import safe_cell

from . import access
from .chain import record, verify
from .forms import AuditFilterForm
from .models import AuditEntry

PER_PAGE = 50


def _text(value: Any) -> str:
    """A value as a person reads it: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def changes(before: Any, after: Any) -> list[dict]:
    """before → after as rows of (field, old, new); each side may be absent."""
    if (before is None or isinstance(before, dict)) and (after is None or isinstance(after, dict)):
        before, after = before or {}, after or {}
        keys = list(after) + [k for k in before if k not in after]
        return [
            {"field": k, "has_before": k in before, "before": _text(before.get(k)),
             "has_after": k in after, "after": _text(after.get(k))}
            for k in keys
        ]
    return [{"field": "", "has_before": before is not None, "before": _text(before),
             "has_after": after is not None, "after": _text(after)}]


def _int_param(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    # isdigit() also accepts "²" and "①", which int() refuses: ASCII digits only.
    return int(value) if re.fullmatch(r"[0-9]{1,18}", value) else None


def _object_types() -> list[str]:
    """Suggestions for the object type filter: Bastion's own models (no query needed)."""
    return sorted(m._meta.label_lower for m in apps.get_models()
                  if m._meta.app_config.name.startswith("bastion."))


@login_required
@require_safe
def audit_list(request: HttpRequest) -> HttpResponse:
    """Newest first, 50 a page. Pages are keyed on seq (?before= / ?after=), not numbered,
    so a page costs the same at entry 10 or 10 million and a new entry never shifts a page."""
    entries = access.audit_entries_visible_to(request.user)
    form = AuditFilterForm(request.GET)
    rows: list[AuditEntry] = []
    has_newer = has_older = False
    if form.is_valid():
        entries = entries.matching(**form.filters())
        before, after = _int_param(request, "before"), _int_param(request, "after")
        if after is not None and before is None:
            rows = list(entries.filter(seq__gt=after).order_by("seq")[: PER_PAGE + 1])
            has_newer = len(rows) > PER_PAGE
            rows = rows[:PER_PAGE][::-1]
            has_older = bool(rows) and entries.filter(seq__lt=rows[-1].seq).exists()
        else:
            page = entries.filter(seq__lt=before) if before is not None else entries
            rows = list(page.order_by("-seq")[: PER_PAGE + 1])
            has_older = len(rows) > PER_PAGE
            rows = rows[:PER_PAGE]
            has_newer = before is not None and bool(rows) and entries.filter(seq__gt=rows[0].seq).exists()
        for entry in rows:
            entry.changes = changes(entry.before, entry.after)  # type: ignore[attr-defined]
    return render(request, "audit/list.html", {
        "form": form,
        "entries": rows,
        "has_newer": has_newer,
        "has_older": has_older,
        "newest_seq": rows[0].seq if rows else None,
        "oldest_seq": rows[-1].seq if rows else None,
        "object_types": _object_types(),
    }, status=200 if form.is_valid() else 400)


@login_required
@require_safe
def audit_detail(request: HttpRequest, seq: int) -> HttpResponse:
    try:
        entry = access.audit_entries_visible_to(request.user).get(seq=seq)
    except AuditEntry.DoesNotExist:
        raise Http404 from None
    last_seq = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    return render(request, "audit/detail.html", {
        "entry": entry,
        "has_next": last_seq is not None and entry.seq < last_seq,
        "changes": changes(entry.before, entry.after),
        "before_json": None if entry.before is None else json.dumps(entry.before, indent=2, ensure_ascii=False, sort_keys=True),
        "after_json": None if entry.after is None else json.dumps(entry.after, indent=2, ensure_ascii=False, sort_keys=True),
    })


@login_required
@require_POST
def audit_verify(request: HttpRequest) -> HttpResponse:
    """Walk the whole chain now and show the result; who verified and what they saw is recorded."""
    access.require_audit_viewer(request.user)
    result = verify()
    record("audit.verified", actor=request.user, object_type="audit.auditentry", object_repr="audit trail",
           after={"intact": result.ok, "checked": result.checked, "problem": result.problem or None,
                  "seq": result.seq},
           request=request)
    return render(request, "audit/verify.html", {"result": result}, status=200)


def csv_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet shows as text, never evaluates (values other than text as
    compact JSON)."""
    return safe_cell(None if value is None else _text(value))


class _Echo:
    def write(self, value: str) -> str:
        return value


CSV_COLUMNS = ["seq", "at (UTC)", "actor", "action", "object type", "object id", "object",
               "before", "after", "ip", "hash"]


def _csv_rows(entries) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for e in entries.order_by("-seq").iterator(chunk_size=2000):
        yield writer.writerow([csv_cell(v) for v in (
            e.seq, e.at.isoformat(timespec="seconds"), e.actor_label, e.action, e.object_type,
            e.object_id, e.object_repr, e.before, e.after, e.ip, e.hash,
        )])


@login_required
@require_safe
def audit_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The filtered list as CSV, streamed; the export itself is recorded."""
    entries = access.audit_entries_visible_to(request.user)
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        errors = " ".join(str(e) for errs in form.errors.values() for e in errs)
        return HttpResponse(f"The filters are not valid: {errors}", status=400,
                            content_type="text/plain; charset=utf-8")
    filters = form.filters()
    record("audit.exported", actor=request.user, object_type="audit.auditentry", object_repr="audit trail (CSV)",
           after={k: v for k, v in filters.items() if v not in ("", None)}, request=request)
    response = StreamingHttpResponse(_csv_rows(entries.matching(**filters)),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="bastion-audit.csv"'
    return response
