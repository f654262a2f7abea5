"""The plan's tests share one organisation: a lead, two approvers (CEO and General Counsel) and
people in the directory, with the starter plan installed as draft version 1."""

import pytest

from bastion.accounts.models import Role
from bastion.people.models import Person
from bastion.response import actions
from bastion.response.models import Plan, PlanVersion

_n = iter(range(1, 100_000))


def person(first: str, last: str, **fields) -> Person:
    return Person.objects.create(employee_id=f"R{next(_n):05d}", email=fields.pop("email", f"{first.lower()}@example.com"),
                                 first_name=first, last_name=last, **fields)


@pytest.fixture
def ceo(make_user):
    return make_user(Role.EXECUTIVE, email="carla@example.com", full_name="Carla Chief",
                     person=person("Carla", "Chief", email="carla@example.com"))


@pytest.fixture
def counsel(make_user):
    return make_user(Role.EXECUTIVE, email="gina@example.com", full_name="Gina Counsel",
                     person=person("Gina", "Counsel", email="gina@example.com"))


@pytest.fixture
def plan(lead, ceo, counsel) -> Plan:
    """The starter plan as draft version 1, approved by the CEO and the General Counsel, read by
    everyone with the employee or manager role."""
    plan = actions.install_starter_plan(acting_user=lead)
    return actions.do_update_plan_settings(acting_user=lead, plan=plan, approvers=[ceo, counsel],
                                           reader_roles=["employee", "manager"])


def draft(plan: Plan) -> PlanVersion:
    version = plan.working_version()
    assert version is not None
    return version


def approve_all(plan: Plan, *approvers) -> PlanVersion:
    version = draft(plan)
    for approver in approvers:
        actions.do_decide(acting_user=approver, plan=plan, version_number=version.number,
                          content_hash=version.content_hash, decision="approved")
    version.refresh_from_db()
    return version


@pytest.fixture
def published(plan, lead, ceo, counsel) -> PlanVersion:
    """Version 1 submitted and approved by both: in force."""
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    return approve_all(plan, ceo, counsel)
