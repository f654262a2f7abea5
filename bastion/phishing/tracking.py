"""Recording a hit on a recipient's link, and the stated rules that flag automated hits.

Rules, in the order they are checked (the first that matches is recorded with the hit):

- ``head-request``: a HEAD request. Browsers follow links with GET; scanners probe with HEAD.
- ``scanner-agent``: the user agent contains one of the configured fragments (case-insensitive).
- ``scanner-network``: the source address is in one of the configured CIDR blocks.
- ``too-soon``: the hit came within N seconds (default 10) of the message's delivery — faster
  than a person opens and reads a message; mail gateways fetch links on arrival.
- ``no-human-signal`` (off by default; on, it judges clicks from the moment it was switched on):
  a click after which no person showed themselves on the landing page within N seconds (default
  120). The landing page's script (phishing/static/phishing/human.js) reports the first pointer,
  key, touch or scroll on the page to ``/p/h/<token>/``; a submitted fake form counts too. Link
  scanners follow the link and may even render the page, but do not move a pointer or type. The
  periodic job ``flag_clicks_without_human_signal`` (every minute) flags each click still without
  a signal once its N seconds are over, and a signal later than that changes nothing: the rule
  reads "within N seconds". The first four rules are decided when the hit arrives; this one after.
  A click whose person has JavaScript off and does not submit the form is flagged too: the rule
  errs towards lower, honest rates. While the rule is on, a click it judges gets its remedial
  training and its webhook only once the signal confirms it; one flagged instead is announced
  with its flag and assigns nothing. A form posted by a hit another rule flagged is no signal.

Rates count a recipient as having opened, clicked or submitted only on a hit no rule flagged;
the raw figures count every hit. Each event keeps its recipient's summary (the first event of
each kind, and the first no rule flagged) in the statement or transaction that records it, so a
campaign's figures read its recipients only (results.py).
"""

import ipaddress
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Min, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest
from django.utils import timezone

from bastion.audit.chain import client_ip

from .models import (
    AutomatedRule,
    Campaign,
    EventKind,
    Recipient,
    RecipientStatus,
    TrackingEvent,
    TrackingRules,
)

_CACHE_KEY = "phishing-tracking-rules"


@dataclass(frozen=True)
class Rules:
    too_soon_seconds: int
    agents: tuple[str, ...]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    no_human_signal: bool = False
    no_human_signal_seconds: int = 120
    no_human_signal_since: datetime | None = None


RULES_CACHE_SECONDS = 60


def current_rules() -> Rules:
    """The rules, cached for a minute (a tracking hit must stay cheap). Saving them clears this
    process's copy at once; other processes (each with its own cache) see them within a minute."""
    rules = cache.get(_CACHE_KEY)
    if rules is None:
        row = TrackingRules.current()
        rules = Rules(row.too_soon_seconds, tuple(a.lower() for a in row.scanner_agents if a),
                      tuple(ipaddress.ip_network(n, strict=False) for n in row.scanner_networks),
                      row.no_human_signal, row.no_human_signal_seconds, row.no_human_signal_since)
        cache.set(_CACHE_KEY, rules, RULES_CACHE_SECONDS)
    return rules


def forget_rules() -> None:
    cache.delete(_CACHE_KEY)


def validate_networks(values: list[str]) -> list[str]:
    """The CIDR blocks normalised; ValueError naming the first that is not one."""
    out = []
    for value in values:
        try:
            out.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            raise ValueError(f"“{value}” is not a network in CIDR form (e.g. 192.0.2.0/24).") from None
    return out


def network_of(address: str | None) -> str:
    """Only the network is kept: IPv4 /24, IPv6 /48."""
    if not address:
        return ""
    ip = ipaddress.ip_address(address)
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def automated_rule(rules: Rules, method: str, agent: str, address: str | None, recipient: Recipient | None,
                   now) -> str:
    """The first rule that flags the hit; "too soon" only with the recipient (else in SQL)."""
    if method == "HEAD":
        return AutomatedRule.HEAD
    lowered = agent.lower()
    if any(fragment in lowered for fragment in rules.agents):
        return AutomatedRule.SCANNER_AGENT
    if address and rules.networks:
        ip = ipaddress.ip_address(address)
        if any(ip in net for net in rules.networks if net.version == ip.version):
            return AutomatedRule.SCANNER_NETWORK
    if recipient and recipient.sent_at and (now - recipient.sent_at).total_seconds() < rules.too_soon_seconds:
        return AutomatedRule.TOO_SOON
    return ""


def record_hit(request: HttpRequest, recipient: Recipient, kind: str, via: str = "link") -> TrackingEvent:
    """Store one hit with the rule that flagged it (if any): one INSERT, and in the same
    transaction the deliveries of any webhook subscribed to the kind."""
    now = timezone.now()
    agent = request.headers.get("User-Agent", "")[:300]
    address = client_ip(request)
    rule = automated_rule(current_rules(), request.method or "GET", agent, address, recipient, now)
    event = TrackingEvent(
        recipient=recipient, kind=kind, at=now, automated=bool(rule), rule=rule,
        method=(request.method or "GET")[:8], user_agent=agent, network=network_of(address), via=via)
    return save_event(event)


@dataclass(frozen=True)
class Hit:
    event: TrackingEvent
    remedial_programme: bool  # the recipient's campaign assigns training (actions.apply_remedial)


SUMMARISED = (EventKind.OPENED, EventKind.CLICKED, EventKind.SUBMITTED, EventKind.REPORTED)


def _summary_sql(kind: str, flagged: str) -> str:
    """The SET clause keeping a recipient's summary (models.Recipient) with an event of `kind` at
    %(at)s; `flagged` is the SQL saying whether a rule flagged it."""
    if kind not in SUMMARISED:
        return ""
    first, human = f"first_{kind}_at", f"human_{kind}_at"
    return (f"{first} = CASE WHEN {first} IS NULL OR {first} > %(at)s THEN %(at)s ELSE {first} END, "
            f"{human} = CASE WHEN NOT ({flagged}) AND ({human} IS NULL OR {human} > %(at)s) THEN %(at)s "
            f"ELSE {human} END")


_FLAGGED = "%(flagged)s OR COALESCE(sent_at > %(soon)s, FALSE)"
_RULE = "CASE WHEN %(rule)s <> '' THEN %(rule)s WHEN sent_at > %(soon)s THEN %(too_soon)s ELSE '' END"
_HELD = "(sent_at IS NOT NULL OR status = %(unknown)s)"  # sent, or "unknown": a hit says it arrived


@lru_cache
def _hit_sql(kind: str, vendor: str) -> tuple[str, ...]:
    """The statements of a hit: PostgreSQL updates the recipient's summary and inserts the event
    in one (a data-modifying WITH); SQLite in two, in one transaction."""
    events, recipients, campaigns = (TrackingEvent._meta.db_table, Recipient._meta.db_table,
                                     Campaign._meta.db_table)
    columns = "recipient_id, kind, at, automated, rule, method, user_agent, network, via"
    values = "%(kind)s, %(at)s, {flagged}, {rule}, %(method)s, %(agent)s, %(network)s, %(via)s"
    returning = (f"RETURNING id, recipient_id, automated, rule, (SELECT c.remedial_programme_id FROM {campaigns} c "  # noqa: S608
                 f"JOIN {recipients} r2 ON r2.campaign_id = c.id WHERE r2.id = {events}.recipient_id)")
    summary = _summary_sql(kind, _FLAGGED)
    if vendor == "postgresql":
        return (f"WITH r AS (UPDATE {recipients} SET {summary} WHERE token = %(token)s AND {_HELD} "  # noqa: S608
                f"RETURNING id, sent_at) INSERT INTO {events} ({columns}) SELECT r.id, "
                + values.format(flagged=_FLAGGED, rule=_RULE) + f" FROM r {returning}",)
    insert = (f"INSERT INTO {events} ({columns}) SELECT id, "  # noqa: S608 - names from the models
              + values.format(flagged=_FLAGGED, rule=_RULE)
              + f" FROM {recipients} WHERE token = %(token)s AND {_HELD} {returning}")
    return (f"UPDATE {recipients} SET {summary} WHERE token = %(token)s AND {_HELD}", insert)  # noqa: S608


def record_hit_by_token(request: HttpRequest, token: str, kind: str) -> Hit | None:
    """record_hit for the recipient holding `token` (sent, or "unknown": a hit on its link says
    it arrived), in one statement on PostgreSQL and two on SQLite — the recipient's read, the
    "too soon" rule, the recipient's summary and the insert — since a tracking hit must stay
    cheap. None for a token no one such holds. With a webhook subscribed to the kind, the
    recipient is read first for its payload (record_hit)."""
    from . import webhooks

    if webhooks.wants(kind):
        found = list(Recipient.objects.select_related("campaign").filter(
            Q(sent_at__isnull=False) | Q(status=RecipientStatus.UNKNOWN), token=token).order_by()[:1])
        if not found:
            return None
        return Hit(record_hit(request, found[0], kind), found[0].campaign.remedial_programme_id is not None)
    now = timezone.now()
    rules = current_rules()
    method = (request.method or "GET")[:8]
    agent = request.headers.get("User-Agent", "")[:300]
    address = client_ip(request)
    rule = automated_rule(rules, method, agent, address, None, now)
    ops = connection.ops
    network = network_of(address)
    params = {"kind": kind, "at": ops.adapt_datetimefield_value(now), "flagged": bool(rule), "rule": rule,
              "soon": ops.adapt_datetimefield_value(now - timedelta(seconds=rules.too_soon_seconds)),
              "too_soon": AutomatedRule.TOO_SOON, "method": method, "agent": agent, "network": network,
              "via": "link", "token": token, "unknown": RecipientStatus.UNKNOWN}
    statements = _hit_sql(kind, connection.vendor)
    with transaction.atomic() if len(statements) > 1 else nullcontext(), connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    pk, recipient_id, automated, rule, programme = row
    event = TrackingEvent(pk=pk, recipient_id=recipient_id, kind=kind, at=now, automated=bool(automated),
                          rule=rule, method=method, user_agent=agent, network=network, via="link")
    return Hit(event, programme is not None)


def _note(event: TrackingEvent) -> None:
    """Keep the recipient's summary with an event saved otherwise (call in its transaction)."""
    summary = _summary_sql(event.kind, "%(flagged)s")
    if summary:
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {Recipient._meta.db_table} SET {summary} WHERE id = %(id)s",  # noqa: S608
                           {"at": connection.ops.adapt_datetimefield_value(event.at), "flagged": event.automated,
                            "id": event.recipient_id})


def refresh_summaries(recipients: QuerySet[Recipient]) -> int:
    """Recompute these recipients' summaries from their events: after events written in bulk
    (the demo, the bench), or flagged later (the "no human signal" job). How many."""
    fields = {}
    for kind in SUMMARISED:
        events = TrackingEvent.objects.filter(recipient=OuterRef("pk"), kind=kind).order_by().values("recipient")
        fields[f"first_{kind}_at"] = Subquery(events.annotate(first=Min("at")).values("first"))
        fields[f"human_{kind}_at"] = Subquery(events.filter(automated=False).annotate(first=Min("at"))
                                              .values("first"))
    return recipients.update(**fields)


def awaits_human_signal(event: TrackingEvent, rules: Rules | None = None) -> bool:
    """A click the "no human signal" rule has still to judge: its webhook and remedial training
    wait for the signal (human_signal), or go out flagged when none came (the periodic job)."""
    rules = rules or current_rules()
    return (event.kind == EventKind.CLICKED and not event.automated and rules.no_human_signal
            and rules.no_human_signal_since is not None and event.at >= rules.no_human_signal_since)


def save_event(event: TrackingEvent) -> TrackingEvent:
    """Store one event (a hit, or a report that came another way: the reporting mailbox) and,
    in the same transaction, the deliveries of any webhook subscribed to its kind (for a click
    awaiting its human signal, later: human_signal or the periodic job)."""
    from . import webhooks

    subscribed = [] if awaits_human_signal(event) else webhooks.wants(event.kind)
    with transaction.atomic():
        event.save()
        _note(event)
        if subscribed:
            webhooks.queue(event.kind, [(event.recipient, event.at, event)], subscribed)
    return event


# --- the "no human signal" rule --------------------------------------------------------------


def human_signal(recipient_id: int, now: datetime | None = None) -> int:
    """A person interacted with the landing page (or submitted its form): the recipient's clicks
    of the last N seconds not yet confirmed are confirmed. How many."""
    return _confirm_clicks(TrackingEvent.objects.filter(recipient_id=recipient_id), now or timezone.now())


def human_signal_by_token(token: str) -> int:
    """human_signal for the recipient holding `token` (sent or unknown); nothing for a token no
    one holds."""
    return _confirm_clicks(TrackingEvent.objects.filter(recipient__token=token), timezone.now())


def _confirm_clicks(events, now: datetime) -> int:
    rules = current_rules()
    window = timedelta(seconds=rules.no_human_signal_seconds)
    clicks = events.filter(kind=EventKind.CLICKED, human_at__isnull=True, at__gte=now - window, at__lte=now)
    if not rules.no_human_signal or rules.no_human_signal_since is None:
        return clicks.update(human_at=now)  # one UPDATE: webhook and training went out with the click
    # The rule is on: a click it judges was held back until now. Each is claimed by a conditional
    # UPDATE, so of two concurrent signals one announces it; the training is assigned once.
    from . import actions, webhooks

    confirmed = []
    for event in clicks.filter(automated=False).select_related("recipient__campaign").order_by("pk"):
        if TrackingEvent.objects.filter(pk=event.pk, automated=False, human_at__isnull=True).update(human_at=now):
            confirmed.append(event)
    held = [event for event in confirmed if awaits_human_signal(event, rules)]
    if held:
        with transaction.atomic():
            webhooks.queue(EventKind.CLICKED, [(event.recipient, event.at, event) for event in held])
        actions.apply_remedial(held[0].recipient, EventKind.CLICKED)
    return len(confirmed)


def flag_clicks_without_human_signal(now: datetime | None = None) -> int:
    """Flag the clicks whose N seconds passed without a human signal (the periodic job); how many.
    Only clicks since the rule was switched on, and none already flagged by another rule."""
    rules = current_rules()
    if not rules.no_human_signal or rules.no_human_signal_since is None:
        return 0
    now = now or timezone.now()
    from . import webhooks

    due = TrackingEvent.objects.filter(
        kind=EventKind.CLICKED, automated=False, human_at__isnull=True,
        at__gte=rules.no_human_signal_since, at__lt=now - timedelta(seconds=rules.no_human_signal_seconds))
    with transaction.atomic():
        ids = list(due.values_list("pk", flat=True))
        flagged = due.filter(pk__in=ids).update(automated=True, rule=AutomatedRule.NO_HUMAN_SIGNAL)
        if flagged:
            # The held-back webhooks go out now, with the final flag (no training: not a person).
            events = list(TrackingEvent.objects.filter(pk__in=ids, rule=AutomatedRule.NO_HUMAN_SIGNAL)
                          .select_related("recipient"))
            webhooks.queue(EventKind.CLICKED, [(event.recipient, event.at, event) for event in events])
            refresh_summaries(Recipient.objects.filter(pk__in={event.recipient_id for event in events}))
            # Their cached results no longer hold (results.py).
            Campaign.objects.filter(pk__in={event.recipient.campaign_id for event in events}).update(
                results_changed_at=now)
    return flagged
