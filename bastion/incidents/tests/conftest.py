"""The incidents' tests share one organisation: the starter plan published (approved by the CEO
and the General Counsel), a security lead with a directory record, an incident commander, and
three business systems whose effective tiers come from a closed criticality review: the ERP
(tier 1), the CRM (tier 2) and the wiki (tier 4)."""

from datetime import UTC, date, datetime

import pytest

from bastion.accounts.models import Role
from bastion.people.models import Person
from bastion.response import actions as plan_actions
from bastion.response.models import PlanVersion
from bastion.systems.models import BusinessSystem, CriticalityReview, ReviewResult, ReviewStatus

# The tests' "now": a Monday morning. Every action is given it, or a time derived from it.
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

_n = iter(range(1, 100_000))


def person(first: str, last: str, email: str | None = None) -> Person:
    return Person.objects.create(employee_id=f"I{next(_n):05d}", email=email or f"{first.lower()}@example.com",
                                 first_name=first, last_name=last)


@pytest.fixture
def lead(make_user):
    return make_user(Role.SECURITY_LEAD, email="alice@example.com", full_name="Alice Lead",
                     person=person("Alice", "Lead", "alice@example.com"))


@pytest.fixture
def commander(db) -> Person:
    return person("Ivan", "Commander", "ivan@example.com")


@pytest.fixture
def published(lead, make_user) -> PlanVersion:
    ceo = make_user(Role.EXECUTIVE, email="carla@example.com", person=person("Carla", "Chief", "carla@example.com"))
    counsel = make_user(Role.EXECUTIVE, email="gina@example.com", person=person("Gina", "Counsel", "gina@example.com"))
    plan = plan_actions.install_starter_plan(acting_user=lead)
    plan = plan_actions.do_update_plan_settings(acting_user=lead, plan=plan, approvers=[ceo, counsel],
                                                reader_roles=["employee"])
    plan_actions.do_submit_for_review(acting_user=lead, plan=plan)
    version = plan.working_version()
    assert version is not None
    for approver in (ceo, counsel):
        plan_actions.do_decide(acting_user=approver, plan=plan, version_number=version.number,
                               content_hash=version.content_hash, decision="approved")
    version.refresh_from_db()
    assert version.status == "published"
    return version


@pytest.fixture
def systems(db) -> dict[str, BusinessSystem]:
    made = {name: BusinessSystem.objects.create(name=name) for name in ("ERP", "CRM", "Wiki")}
    review = CriticalityReview.objects.create(
        title="2025 review", deadline=date(2025, 2, 1), status=ReviewStatus.CLOSED,
        opened_at=datetime(2025, 1, 10, tzinfo=UTC), closed_at=datetime(2025, 3, 1, tzinfo=UTC))
    review.systems.set(made.values())
    ReviewResult.objects.bulk_create([
        ReviewResult(review=review, system=made[name], rank=rank, score=5 - rank, tier=tier, effective_tier=tier)
        for rank, (name, tier) in enumerate([("ERP", 1), ("CRM", 2), ("Wiki", 4)], 1)])
    return made
