"""Small builders for the register's tests."""

import itertools
import re
from decimal import Decimal

from bastion.people.models import Person
from bastion.systems.models import BusinessSystem

_numbers = itertools.count(1)


# The impact dimensions a review has unless configured otherwise.
DIMENSIONS = ["financial", "operational", "legal_regulatory", "reputational", "safety"]


def add_person(**fields) -> Person:
    n = next(_numbers)
    values = {"employee_id": f"S{n:05d}", "email": f"owner{n}@example.com", "first_name": f"Owner{n}",
              "last_name": f"Person{n}", "title": "VP"}
    values.update(fields)
    return Person.objects.create(**values)


def add_system(name: str, depends_on=(), **fields) -> BusinessSystem:
    system = BusinessSystem.objects.create(name=name, **fields)
    system.dependencies.set(depends_on)
    return system


def system_form(**fields) -> dict:
    """What the form posts for a valid system; any field can be overridden."""
    values = {"name": "Warehouse management", "description": "", "owner_email": "",
              "business_processes": "Picking\nShipping", "data_classification": "confidential",
              "users_count": "300", "hosting": "saas", "hosting_detail": "Manhattan", "depends_on": "",
              "rto_hours": "4", "rpo_hours": "1", "mtd_hours": "8", "security_spend": "12000",
              "status": "active"}
    values.update(fields)
    return values


D = Decimal


def answer_link(message) -> str:
    """The path of the answer link in a review email received by the test SMTP server."""
    body = message.get_body(("plain",)).get_content()
    match = re.search(r"https?://[^/\s]+(/systems/reviews/answer/[^\s]+/)", body)
    assert match, body
    return match.group(1)
