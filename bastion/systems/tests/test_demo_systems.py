"""The demo organisation comes with a register a newcomer can explore."""

import pytest
from django.core.management import call_command
from django.utils import timezone

from bastion.accounts.models import Role, User
from bastion.audit.chain import verify
from bastion.demo.management.commands.demo import DEMO_PASSWORD
from bastion.systems.models import BusinessSystem, SecurityBudget


@pytest.mark.django_db
def test_demo_loads_a_register_with_owners_dependencies_and_a_budget(client):
    call_command("demo")
    systems = BusinessSystem.objects.all()
    assert 35 <= systems.count() <= 45
    assert not systems.filter(owner=None).exists()
    idp = BusinessSystem.objects.get(name="Entra ID")
    assert idp.dependents.count() >= 15
    assert systems.filter(card_data=True).exists() and systems.filter(health_data=True).exists()
    gaps = [s.name for s in systems if s.rto_hours and s.mtd_hours and s.rto_hours > s.mtd_hours]
    assert gaps, "some systems show an RTO above their MTD"
    assert SecurityBudget.objects.get(year=timezone.localdate().year).total > 0
    assert verify().ok

    lead = User.objects.get(role=Role.SECURITY_LEAD)
    client.post("/login/", {"email": lead.email, "password": DEMO_PASSWORD})
    page = client.get("/systems/").content.decode()
    assert "SAP S/4HANA ERP" in page and "systems match" in page
    assert "Recovery gap" in client.get(f"/systems/{BusinessSystem.objects.get(name='Oracle TMS').pk}/").content.decode()
    assert "750,000 EUR" in client.get("/systems/budget/").content.decode()
