"""The awareness programme's background jobs."""

from datetime import timedelta

from django.tasks import task

from bastion.jobs.periodic import periodic

from . import engine, followup, policy_asks


@periodic(every=timedelta(hours=1))
@task()
def run_assignments() -> dict:
    """Assign what each programme's rules call for, cancel leavers' open assignments, and email
    each new assignment to its learner once (see engine.py)."""
    result = engine.run_assignments()
    return {"created": result.created, "cancelled": result.cancelled, "emailed": result.emailed,
            "problems": {p.name: p.problem for p in result.programmes if p.problem}}


@periodic(every=timedelta(hours=1))
@task()
def follow_up_training() -> dict:
    """Reminders, escalation to managers, consequences and incentives, each once (see
    followup.py); and asking everyone to acknowledge the current version of each policy
    (policy_asks.py)."""
    result = followup.run_followup()
    asked = policy_asks.send_policy_asks()
    return {"policy_emails": asked, "reminders": result.reminders, "escalated": result.escalated,
            "managers_emailed": result.managers_emailed, "consequences": result.consequences,
            "incentives": result.incentives}
