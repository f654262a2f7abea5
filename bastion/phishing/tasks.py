"""The phishing simulation's background jobs: sending campaigns (see sending.py), webhooks, and
reading the reporting mailboxes (mailbox.py)."""

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
            "deferred": result.deferred, "started": result.started, "finished": result.finished, "errors": result.errors}


@periodic(every=timedelta(minutes=1))
@task()
def flag_clicks_without_human_signal() -> int:
    """The "no human signal" rule: flag clicks no person followed up within N seconds (tracking.py)."""
    from . import tracking

    return tracking.flag_clicks_without_human_signal()


@periodic(every=timedelta(seconds=30))
@task()
def deliver_webhooks() -> dict:
    """POST due webhook deliveries, signed; retry failures with backoff (see webhooks.py)."""
    from . import webhooks

    result = webhooks.deliver_due()
    return {"delivered": result.delivered, "retrying": result.retrying, "failed": result.failed,
            "released": result.released}


@periodic(every=timedelta(minutes=1))
@task()
def poll_reporting_mailboxes() -> dict:
    """Read what employees forwarded to the reporting mailboxes (see mailbox.py): forwarded
    simulations recorded as reported, other mail stored for triage, each message once."""
    from dataclasses import asdict

    from . import mailbox

    result = asdict(mailbox.poll_all())
    result["errors"] = {str(pk): error for pk, error in result["errors"].items()}
    return result
