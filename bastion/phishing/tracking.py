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
  errs towards lower, honest rates.

Rates count a recipient as having opened, clicked or submitted only on a hit no rule flagged;
the raw figures count every hit.
"""

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from bastion.audit.chain import client_ip

from .models import AutomatedRule, EventKind, Recipient, TrackingEvent, TrackingRules

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


def automated_rule(rules: Rules, method: str, agent: str, address: str | None, recipient: Recipient,
                   now) -> str:
    if method == "HEAD":
        return AutomatedRule.HEAD
    lowered = agent.lower()
    if any(fragment in lowered for fragment in rules.agents):
        return AutomatedRule.SCANNER_AGENT
    if address and rules.networks:
        ip = ipaddress.ip_address(address)
        if any(ip in net for net in rules.networks if net.version == ip.version):
            return AutomatedRule.SCANNER_NETWORK
    if recipient.sent_at and (now - recipient.sent_at).total_seconds() < rules.too_soon_seconds:
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


def save_event(event: TrackingEvent) -> TrackingEvent:
    """Store one event (a hit, or a report that came another way: the reporting mailbox) and,
    in the same transaction, the deliveries of any webhook subscribed to its kind."""
    from . import webhooks

    subscribed = webhooks.wants(event.kind)
    if not subscribed:
        event.save()
        return event
    with transaction.atomic():
        event.save()
        webhooks.queue(event.kind, [(event.recipient, event.at, event)], subscribed)
    return event


# --- the "no human signal" rule --------------------------------------------------------------


def human_signal(recipient_id: int, now: datetime | None = None) -> int:
    """A person interacted with the landing page (or submitted its form): the recipient's clicks
    of the last N seconds not yet confirmed are confirmed (one UPDATE). How many."""
    now = now or timezone.now()
    window = timedelta(seconds=current_rules().no_human_signal_seconds)
    return TrackingEvent.objects.filter(recipient_id=recipient_id, kind=EventKind.CLICKED, human_at__isnull=True,
                                        at__gte=now - window, at__lte=now).update(human_at=now)


def human_signal_by_token(token: str) -> int:
    """human_signal for the recipient holding `token` (sent or unknown), in one statement;
    nothing for a token no one holds."""
    now = timezone.now()
    window = timedelta(seconds=current_rules().no_human_signal_seconds)
    return TrackingEvent.objects.filter(recipient__token=token, kind=EventKind.CLICKED, human_at__isnull=True,
                                        at__gte=now - window, at__lte=now).update(human_at=now)


def flag_clicks_without_human_signal(now: datetime | None = None) -> int:
    """Flag the clicks whose N seconds passed without a human signal (the periodic job); how many.
    Only clicks since the rule was switched on, and none already flagged by another rule."""
    rules = current_rules()
    if not rules.no_human_signal or rules.no_human_signal_since is None:
        return 0
    from .models import Campaign

    now = now or timezone.now()
    due = TrackingEvent.objects.filter(
        kind=EventKind.CLICKED, automated=False, human_at__isnull=True,
        at__gte=rules.no_human_signal_since, at__lt=now - timedelta(seconds=rules.no_human_signal_seconds))
    with transaction.atomic():
        campaigns = set(due.values_list("recipient__campaign", flat=True).distinct())
        flagged = due.update(automated=True, rule=AutomatedRule.NO_HUMAN_SIGNAL)
        if flagged:  # their cached results no longer hold (results.py)
            Campaign.objects.filter(pk__in=campaigns).update(results_changed_at=now)
    return flagged
