"""Login throttling: too many failures for one account or from one address blocks for a while."""

import math
from datetime import timedelta

from django.utils import timezone

from .models import LoginAttempt

WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_IP = 30


def blocked_message(email: str, ip: str | None) -> str | None:
    """A clear message if sign-in is throttled for this account or address, else None."""
    failures = LoginAttempt.objects.recent_failures(WINDOW)
    by_account = failures.filter(email=email.lower())
    by_ip = failures.filter(ip=ip) if ip else failures.none()
    for qs, limit in ((by_account, MAX_FAILURES_PER_ACCOUNT), (by_ip, MAX_FAILURES_PER_IP)):
        times = list(qs.order_by("-at").values_list("at", flat=True)[:limit])
        if len(times) >= limit:
            unblock = times[-1] + WINDOW
            minutes = max(1, math.ceil((unblock - timezone.now()).total_seconds() / 60))
            return (
                "Too many failed sign-in attempts. For your security, sign-in is paused: "
                f"try again in {minutes} minute{'s' if minutes != 1 else ''}."
            )
    return None


def note_attempt(email: str, ip: str | None, succeeded: bool) -> None:
    LoginAttempt.objects.create(email=email.lower()[:254], ip=ip, succeeded=succeeded)
