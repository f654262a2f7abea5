"""A campaign's figures: raw (every hit) and filtered (hits no automated rule flagged)."""

from statistics import median

from django.db.models import Count, Min, Q

from .models import Campaign, EventKind, RecipientStatus, TrackingEvent

KINDS = (EventKind.OPENED, EventKind.CLICKED, EventKind.SUBMITTED, EventKind.REPORTED)


def campaign_results(campaign: Campaign) -> dict:
    """Counts of recipients (not hits) per stage, raw and filtered; rates over those sent."""
    statuses = dict(campaign.recipients.values_list("status").annotate(n=Count("pk")).order_by())
    sent = statuses.get(RecipientStatus.SENT, 0)
    events = TrackingEvent.objects.filter(recipient__campaign=campaign)
    aggregates = {}
    for kind in KINDS:
        aggregates[f"{kind}_raw"] = Count("recipient", distinct=True, filter=Q(kind=kind))
        aggregates[f"{kind}_filtered"] = Count("recipient", distinct=True, filter=Q(kind=kind, automated=False))
    counts = events.aggregate(**aggregates)
    # Time to report: from each recipient's send to their first report (filtered).
    firsts = (events.filter(kind=EventKind.REPORTED, automated=False).values("recipient")
              .annotate(first=Min("at")).values_list("first", "recipient__sent_at"))
    delays = [(first - sent_at).total_seconds() for first, sent_at in firsts if sent_at]
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
