"""Login throttling: too many failures for one account or from one address blocks for a while.

Password and second-factor failures both count. A completed sign-in clears the account's count
(an attacker cannot complete one without both factors); the per-address count never resets.
"""

import math
from datetime import timedelta

from django.utils import timezone

from .models import LoginAttempt

WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_IP = 30


def _wait_message(oldest_counted) -> str:
    minutes = max(1, math.ceil((oldest_counted + WINDOW - timezone.now()).total_seconds() / 60))
    return (
        "Too many failed sign-in attempts. For your security, sign-in is paused: "
        f"try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )


def blocked_message(email: str, ip: str | None) -> str | None:
    """A clear message if sign-in is throttled for this account or address, else None."""
    since = timezone.now() - WINDOW
    email = email.lower()
    last_success = (
        LoginAttempt.objects.filter(email=email, succeeded=True, at__gte=since)
        .order_by("-at").values_list("at", flat=True).first()
    )
    by_account = LoginAttempt.objects.filter(email=email, succeeded=False, at__gte=since)
    if last_success is not None:
        by_account = by_account.filter(at__gt=last_success)
    checks = [(by_account, MAX_FAILURES_PER_ACCOUNT)]
    if ip:
        checks.append((LoginAttempt.objects.filter(ip=ip, succeeded=False, at__gte=since),
                       MAX_FAILURES_PER_IP))
    for failures, limit in checks:
        # The block lifts when the oldest of the last `limit` failures leaves the window.
        times = list(failures.order_by("-at").values_list("at", flat=True)[:limit])
        if len(times) >= limit:
            return _wait_message(times[-1])
    return None


def note_attempt(email: str, ip: str | None, succeeded: bool) -> None:
    LoginAttempt.objects.create(email=email.lower()[:254], ip=ip, succeeded=succeeded)


def prune_attempts() -> int:
    """Delete attempts too old to count; meant for a periodic job. Returns how many went."""
    deleted, _ = LoginAttempt.objects.filter(at__lt=timezone.now() - WINDOW).delete()
    return deleted
