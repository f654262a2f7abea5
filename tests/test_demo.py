"""The demo organisation a newcomer sees after `make run`."""

import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from bastion.accounts.models import Role, User
from bastion.audit.chain import verify
from bastion.demo.management.commands.demo import DEMO_PASSWORD
from bastion.people.models import Group, Person


@pytest.mark.django_db
def test_demo_builds_an_organisation_with_managers_and_every_role(client, capsys):
    call_command("demo")
    out = capsys.readouterr().out
    assert "300 people" in out
    assert DEMO_PASSWORD in out

    assert Person.objects.count() == 300
    ceo = Person.objects.get(title="Chief Executive Officer")
    assert ceo.manager is None
    # Everyone else has a manager, and the chain ends at the CEO within a few levels.
    assert Person.objects.filter(manager__isnull=True).count() == 1
    assert Person.objects.exclude(pk=ceo.pk).filter(manager__manager__manager__manager__isnull=False).count() == 0
    assert Person.objects.values("department").distinct().count() >= 10
    assert Person.objects.filter(status="leaver").exists()
    assert {u.role for u in User.objects.all()} == set(Role.values)
    assert Group.objects.filter(kind="rule").exists() and Group.objects.filter(kind="static").exists()

    # The printed sign-in works and the demo manager sees their team.
    lead = User.objects.get(role=Role.SECURITY_LEAD)
    assert lead.email in out
    response = client.post("/login/", {"email": lead.email, "password": DEMO_PASSWORD}, follow=True)
    assert response.status_code == 200 and b"Welcome" in response.content
    manager = User.objects.get(role=Role.MANAGER)
    employee = User.objects.get(role=Role.EMPLOYEE)
    assert employee.person.manager_id == manager.person_id
    assert verify().ok


@pytest.mark.django_db
def test_demo_loads_only_into_an_empty_bastion(capsys):
    call_command("demo")
    with pytest.raises(CommandError, match="already has people"):
        call_command("demo")
    call_command("demo", if_empty=True)
    assert "already loaded" in capsys.readouterr().out
    assert Person.objects.count() == 300


def test_bastion_command_lists_its_subcommands():
    out = subprocess.run([sys.executable, "-m", "bastion", "help"], capture_output=True, text=True, check=True).stdout
    for name in ("serve", "worker", "migrate", "createadmin", "token", "demo", "import_people", "audit"):
        assert name in out


@pytest.mark.django_db
def test_health_endpoints(client):
    assert client.get("/healthz").status_code == 200
    # No worker has reported: not ready, and it says why.
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "workers": 0}
