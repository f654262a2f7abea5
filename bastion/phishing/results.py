"""A campaign's figures: raw (every hit) and filtered (hits no automated rule flagged); the same
by department and by manager; repeat clickers across campaigns; a person's history; the
per-recipient CSV rows. Each is a fixed number of queries, whatever the number of recipients.

A campaign's figures and group breakdowns read every recipient of the campaign (their summaries
and the department and manager kept on each; at 100,000 recipients, tens of milliseconds). Once it is no longer sending they are cached
under a key of what they depend on, each read cheaply: the campaign's status, finish time and
``results_changed_at`` (set when the "no human signal" job flags hits already recorded), the
newest tracking event's id (from the end of the primary key's index) and, for the breakdown by
manager, the directory's newest change (the managers' names). Any new hit or change makes a new key, so a cached figure is
never stale; a sending campaign's are computed on every view.
"""

import hashlib
from collections.abc import Iterable, Iterator
from statistics import median
from typing import Any, cast

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Min, Q, Subquery
from django.db.models.expressions import RawSQL

from .models import Campaign, CampaignStatus, EventKind, Recipient, RecipientStatus, TrackingEvent

CACHE_SECONDS = 3600


def _cached(campaign: Campaign, what: str, compute, directory: bool = False):
    """compute(), from the cache while nothing it depends on has changed (see above)."""
    newest = TrackingEvent.objects.order_by("-pk").values("pk")[:1]
    stamp = (Campaign.objects.filter(pk=campaign.pk).annotate(newest=Subquery(newest))
             .values_list("status", "finished_at", "results_changed_at", "newest").first())
    if stamp is None or stamp[0] == CampaignStatus.SENDING:
        return compute()
    key = [campaign.pk, *stamp, what]
    if directory:
        from bastion.people.models import Person

        key.append(Person.objects.aggregate(changed=Max("updated_at"))["changed"])
    return cache.get_or_set("phishing-results:" + hashlib.sha256(repr(key).encode()).hexdigest(), compute,
                            CACHE_SECONDS)

KINDS = (EventKind.OPENED, EventKind.CLICKED, EventKind.SUBMITTED, EventKind.REPORTED)


def campaign_results(campaign: Campaign) -> dict:
    """Counts of recipients (not hits) per stage, raw and filtered; rates over those sent."""
    return _cached(campaign, "figures", lambda: _campaign_results(campaign))


def _campaign_results(campaign: Campaign) -> dict:
    # One scan of the campaign's recipients: their statuses with what they did (the summary each
    # event keeps on its recipient, tracking.py), then the first reports' times for the median.
    reported = Q(human_reported_at__isnull=False, sent_at__isnull=False)
    aggregates = {"n": Count("pk"), "timed_reports": Count("pk", filter=reported)}
    for kind in KINDS:
        aggregates[f"{kind}_raw"] = Count(f"first_{kind}_at")
        aggregates[f"{kind}_filtered"] = Count(f"human_{kind}_at")
    rows = cast(list[dict[str, Any]], list(campaign.recipients.order_by().values("status").annotate(**aggregates)))
    statuses = {row["status"]: row["n"] for row in rows}
    counts = {name: sum(row[name] for row in rows) for name in aggregates}
    sent = statuses.get(RecipientStatus.SENT, 0)
    # Time to report: from each recipient's send to their first report (filtered); its median
    # read from the sorted delays (the middle one or two), not every delay.
    n = counts["timed_reports"]
    middle = campaign.recipients.filter(reported).order_by(_delay()).values_list("human_reported_at", "sent_at")
    delays = [(reported_at - sent_at).total_seconds() for reported_at, sent_at in
              cast(Iterable[tuple[Any, Any]], middle[(n - 1) // 2:n // 2 + 1])] if n else []
    raw = {k.value: counts[f"{k}_raw"] for k in KINDS}
    filtered = {k.value: counts[f"{k}_filtered"] for k in KINDS}
    return {
        "recipients": sum(statuses.values()), "sent": sent,
        "delivered": sent,  # accepted by the mail server; bounces are not read yet
        "refused": statuses.get(RecipientStatus.REFUSED, 0), "failed": statuses.get(RecipientStatus.FAILED, 0),
        "unknown": statuses.get(RecipientStatus.UNKNOWN, 0),
        "pending": statuses.get(RecipientStatus.PENDING, 0),
        "raw": raw, "filtered": filtered,
        "click_rate": round(filtered["clicked"] / sent, 4) if sent else None,
        "report_rate": round(filtered["reported"] / sent, 4) if sent else None,
        "median_seconds_to_report": median(delays) if delays else None,
    }


def _delay():
    """From send to first report, to sort by. SQLite has no interval type and Django's datetime
    difference there is a Python function called per row (most of the median's time at 100,000
    recipients), so there it is the exact difference in microseconds of the stored text
    ("YYYY-MM-DD HH:MM:SS[.ffffff]") in SQLite's own functions."""
    if connection.vendor != "sqlite":
        return ExpressionWrapper(F("human_reported_at") - F("sent_at"), output_field=DurationField())
    micro = "(CAST(strftime('%%s', {0}) AS INTEGER) * 1000000 + CAST(substr({0}, 21, 6) AS INTEGER))"
    return RawSQL(f"{micro.format('human_reported_at')} - {micro.format('sent_at')}", [])  # noqa: S611 - no input


# --- by department and by manager ------------------------------------------------------------

GROUPINGS = {"department": "department", "manager": "manager"}


def _figures(sent: int, counts: dict) -> dict:
    raw = {k.value: counts.get(f"{k}_raw", 0) for k in KINDS}
    filtered = {k.value: counts.get(f"{k}_filtered", 0) for k in KINDS}
    return {"sent": sent, "raw": raw, "filtered": filtered,
            "click_rate": round(filtered["clicked"] / sent, 4) if sent else None,
            "report_rate": round(filtered["reported"] / sent, 4) if sent else None}


def campaign_groups(campaign: Campaign, by: str, limit: int = 100, offset: int = 0) -> tuple[list[dict], int]:
    """One page of the campaign's figures per department or per manager, and how many groups
    there are. Each recipient counts under the department and manager they had when the campaign
    was created (kept on the recipient), not the ones they have now. At most three queries
    whatever the size: groups with their count and figures, managers' names, and the count alone
    for a page past the end."""
    field = GROUPINGS[by]  # KeyError for an unknown grouping, before any cache
    # Only the managers' names come from the directory now.
    return _cached(campaign, f"groups:{by}:{limit}:{offset}", lambda: _campaign_groups(campaign, field, by, limit,
                                                                                         offset),
                   directory=by == "manager")


def _campaign_groups(campaign: Campaign, field: str, by: str, limit: int, offset: int) -> tuple[list[dict], int]:
    # One statement over the campaign's recipients alone (an index on (campaign, group)): the
    # page of groups with how many there are (a window count over the grouped rows) and each
    # group's figures, from the recipients' summaries (tracking.py).
    from bastion.people.models import Person

    column = {"department": "department", "manager": "manager_id"}[by]
    recipients = Recipient._meta.db_table
    stages = ", ".join(f"COUNT(first_{kind}_at), COUNT(human_{kind}_at)" for kind in KINDS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column}, COUNT(*), SUM(CASE WHEN status = %s THEN 1 ELSE 0 END), COUNT(*) OVER (), "  # noqa: S608
            f"{stages} FROM {recipients} WHERE campaign_id = %s "
            f"GROUP BY {column} ORDER BY {column} LIMIT %s OFFSET %s",
            [RecipientStatus.SENT.value, campaign.pk, limit, offset])
        page = cursor.fetchall()
    total = page[0][3] if page else campaign.recipients.order_by().values(field).distinct().count()
    keys = [row[0] for row in page]
    by_key = {row[0]: {f"{kind}_{which}": row[4 + 2 * n + m] for n, kind in enumerate(KINDS)
                       for m, which in enumerate(("raw", "filtered"))} for row in page}
    names = {}
    if by == "manager":
        names = {p["pk"]: f"{p['first_name']} {p['last_name']}"
                 for p in Person.objects.filter(pk__in=[k for k in keys if k]).values("pk", "first_name", "last_name")}
    items = []
    for key, count, sent, *_ in page:
        if by == "manager":
            label = names.get(key, "") if key else "No manager"
        else:
            label = key or "No department"
        items.append({"key": key, "label": label, "recipients": count, **_figures(int(sent or 0), by_key.get(key, {}))})
    return items, total


# --- across campaigns ------------------------------------------------------------------------


def repeat_clickers(limit: int = 100, offset: int = 0, min_campaigns: int = 2) -> tuple[list[dict], int]:
    """People with a click no automated rule flagged in at least `min_campaigns` campaigns, most
    campaigns first: one page and how many there are (two queries; cached while no hit, flag or
    directory change has happened since)."""
    from bastion.people.models import Person

    key = [TrackingEvent.objects.order_by("-pk").values_list("pk", flat=True).first(),
           Campaign.objects.aggregate(flagged=Max("results_changed_at"), campaigns=Count("pk")),
           Person.objects.aggregate(changed=Max("updated_at"))["changed"], limit, offset, min_campaigns]
    return cast(tuple[list[dict], int],
                cache.get_or_set("phishing-repeat-clickers:" + hashlib.sha256(repr(key).encode()).hexdigest(),
                                 lambda: _repeat_clickers(limit, offset, min_campaigns), CACHE_SECONDS))


def _repeat_clickers(limit: int, offset: int, min_campaigns: int) -> tuple[list[dict], int]:
    clickers = (TrackingEvent.objects.filter(kind=EventKind.CLICKED, automated=False).order_by()
                .values("recipient__person").annotate(campaigns=Count("recipient__campaign", distinct=True))
                .filter(campaigns__gte=min_campaigns))
    total = clickers.count()
    rows = list(clickers.order_by("-campaigns", "recipient__person")
                .values("recipient__person", "recipient__person__employee_id", "recipient__person__first_name",
                        "recipient__person__last_name", "recipient__person__department", "campaigns")
                [offset:offset + limit])
    return [{"person": r["recipient__person"], "employee_id": r["recipient__person__employee_id"],
             "name": f"{r['recipient__person__first_name']} {r['recipient__person__last_name']}",
             "department": r["recipient__person__department"], "campaigns_clicked": r["campaigns"]}
            for r in rows], total


def _firsts() -> dict:
    """Per recipient: the time of their first hit of each kind that no rule flagged, and how
    many hits were flagged automated."""
    firsts = {f"first_{kind}": Min("events__at", filter=Q(events__kind=kind, events__automated=False))
              for kind in KINDS}
    return {**firsts, "automated_hits": Count("events", filter=Q(events__automated=True))}


def person_history(person_id: int) -> list[dict]:
    """Every simulation the person was sent, newest first, with what they did (one query)."""
    rows = (Recipient.objects.filter(person_id=person_id).order_by("-campaign__starts_at", "-pk")
            .values("campaign", "campaign__name", "template__name", "template__difficulty", "status", "sent_at",
                    "remedial_at")
            .annotate(**_firsts()))
    return [{"campaign": r["campaign"], "campaign_name": r["campaign__name"], "template": r["template__name"],
             "difficulty": r["template__difficulty"], "status": r["status"], "sent_at": r["sent_at"],
             "opened_at": r["first_opened"], "clicked_at": r["first_clicked"],
             "submitted_at": r["first_submitted"], "reported_at": r["first_reported"],
             "automated_hits": r["automated_hits"], "remedial_assigned_at": r["remedial_at"]}
            for r in cast(Iterable[dict[str, Any]], rows)]


CSV_HEADER = ["employee_id", "email", "first_name", "last_name", "department", "template", "status", "sent_at",
              "opened_at", "clicked_at", "submitted_at", "reported_at", "automated_hits", "remedial_assigned_at"]


def csv_rows(campaign: Campaign) -> Iterator[list]:
    """The campaign's per-recipient results, one row each (times in UTC ISO 8601; the first hit
    of each kind no rule flagged), read in chunks: one query per 2,000 recipients."""
    rows = (campaign.recipients.order_by("pk")
            .values("person__employee_id", "email", "person__first_name", "person__last_name",
                    "person__department", "template__name", "status", "sent_at", "remedial_at")
            .annotate(**_firsts()))
    for r in cast(Iterable[dict[str, Any]], rows.iterator(chunk_size=2000)):
        yield [r["person__employee_id"], r["email"], r["person__first_name"], r["person__last_name"],
               r["person__department"], r["template__name"], r["status"], _iso(r["sent_at"]),
               *(_iso(r[f"first_{kind}"]) for kind in KINDS), r["automated_hits"], _iso(r["remedial_at"])]


def _iso(value) -> str:
    return value.isoformat() if value is not None else ""


def campaigns_summary(campaign_ids: list[int]) -> dict[int, dict]:
    """For a page of campaigns: recipients, sent, and the filtered click and report rates of
    each (two queries, whatever the number of campaigns)."""
    out: dict[int, dict[str, Any]] = {
        pk: {"recipients": 0, "sent": 0, "clicked": 0, "reported": 0, "click_rate": None, "report_rate": None}
        for pk in campaign_ids}
    for row in (Recipient.objects.filter(campaign__in=campaign_ids).order_by().values("campaign")
                .annotate(n=Count("pk"), sent=Count("pk", filter=Q(status=RecipientStatus.SENT)))):
        out[row["campaign"]].update(recipients=row["n"], sent=row["sent"])
    hits = (TrackingEvent.objects.filter(recipient__campaign__in=campaign_ids, automated=False).order_by()
            .values("recipient__campaign")
            .annotate(clicked=Count("recipient", distinct=True, filter=Q(kind=EventKind.CLICKED)),
                      reported=Count("recipient", distinct=True, filter=Q(kind=EventKind.REPORTED))))
    for hit in hits:
        out[hit["recipient__campaign"]].update(clicked=hit["clicked"], reported=hit["reported"])
    for figures in out.values():
        if figures["sent"]:
            figures["click_rate"] = round(figures["clicked"] / figures["sent"], 4)
            figures["report_rate"] = round(figures["reported"] / figures["sent"], 4)
    return out


def recipient_rows(campaign: Campaign, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
    """One page of the campaign's recipients with what each did (first hit of each kind no rule
    flagged, and how many were flagged), and how many there are: two queries."""
    recipients = campaign.recipients.order_by("pk")
    total = recipients.count()
    # The page's recipients first (a sliced subquery), so only their events are aggregated.
    rows = (recipients.filter(pk__in=recipients.values("pk")[offset:offset + limit])
            .values("person", "email", "person__first_name", "person__last_name", "person__department",
                    "template__name", "status", "sent_at", "error")
            .annotate(**_firsts()))
    return [{"person": r["person"], "email": r["email"],
             "name": f"{r['person__first_name']} {r['person__last_name']}", "department": r["person__department"],
             "template": r["template__name"], "status": r["status"], "sent_at": r["sent_at"], "error": r["error"],
             "opened_at": r["first_opened"], "clicked_at": r["first_clicked"], "submitted_at": r["first_submitted"],
             "reported_at": r["first_reported"], "automated_hits": r["automated_hits"]}
            for r in cast(Iterable[dict[str, Any]], rows)], total
