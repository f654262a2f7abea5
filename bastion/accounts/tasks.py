"""Account housekeeping that runs in the background."""

from datetime import timedelta

from django.tasks import task
from django.utils import timezone

from bastion.jobs.periodic import periodic

from .models import UsedLinkToken
from .throttle import prune_attempts


@periodic(every=timedelta(hours=1))
@task()
def prune_login_attempts() -> int:
    """Sign-in attempts older than the throttling window no longer count; drop them hourly."""
    return prune_attempts()


@periodic(every=timedelta(days=1))
@task()
def prune_used_link_tokens() -> int:
    """Spent single-use links past their expiry are refused as expired anyway; drop them."""
    deleted, _ = UsedLinkToken.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted
