"""The phishing simulation's background job: sending campaigns (see sending.py)."""

from datetime import timedelta

from django.tasks import task

from bastion.jobs.periodic import periodic

from . import sending


@periodic(every=timedelta(seconds=30))
@task()
def send_campaigns() -> dict:
    """Start due campaigns and send their due messages, each recipient exactly once."""
    result = sending.send_due()
    return {"sent": result.sent, "refused": result.refused, "failed": result.failed, "unknown": result.unknown,
            "started": result.started, "finished": result.finished, "errors": result.errors}


@periodic(every=timedelta(seconds=30))
@task()
def deliver_webhooks() -> dict:
    """POST due webhook deliveries, signed; retry failures with backoff (see webhooks.py)."""
    from . import webhooks

    result = webhooks.deliver_due()
    return {"delivered": result.delivered, "retrying": result.retrying, "failed": result.failed,
            "released": result.released}
