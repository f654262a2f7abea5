"""The affected systems of the declare form and of the incident's facts form scale to a register
of hundreds: a search box (htmx) finds systems by name, a page of results at a time, ticked ones
stay chosen across searches; without JavaScript the Find button brings the form back as typed
with the results."""

import html
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bastion.accounts.models import Role
from bastion.incidents import actions
from bastion.incidents.models import Incident
from bastion.systems.models import BusinessSystem

HTMX = {"HX-Request": "true"}


def _text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def _ticked(response) -> list[str]:
    """The names of the systems ticked in the response."""
    return re.findall(r'name="affected_systems" value="\d+" checked> ([^<]+?)\s*</label>', response.content.decode())


def _offered(response) -> list[str]:
    return re.findall(r'name="affected_systems" value="\d+"> ([^<]+?)\s*</label>', response.content.decode())


@pytest.fixture
def register(db) -> dict[str, BusinessSystem]:
    made = BusinessSystem.objects.bulk_create([BusinessSystem(name=f"Payroll {n:03d}") for n in range(300)]
                                              + [BusinessSystem(name="ERP"), BusinessSystem(name="CRM")])
    return {s.name: BusinessSystem.objects.get(name=s.name) for s in made if not s.name.startswith("Payroll 2")}


def test_the_form_does_not_list_the_whole_register(published, lead, register, client_for):
    page = client_for(lead).get("/incidents/declare/")
    assert page.status_code == 200
    assert "Find a system by name" in _text(page)
    assert "Payroll 150" not in _text(page) and _offered(page) == [] and _ticked(page) == []


def test_searching_finds_a_page_of_systems_and_keeps_the_chosen_ones(published, lead, register, client_for):
    client = client_for(lead)
    chosen = register["Payroll 010"]
    with CaptureQueriesContext(connection) as queries:
        region = client.get("/incidents/systems/", {"system_q": "payroll 0", "affected_systems": [chosen.pk]},
                            headers=HTMX)
    assert region.status_code == 200
    assert region.content.decode().lstrip().startswith('<div id="system-choices"')
    assert _ticked(region) == ["Payroll 010"]
    assert _offered(region) == [f"Payroll {n:03d}" for n in range(21) if n != 10]
    assert "Only the first 20 are shown: type more of the name." in _text(region)
    assert len(queries) <= 6  # the session and user, the chosen systems, one page of matches
    region = client.get("/incidents/systems/", {"system_q": "erp", "affected_systems": [chosen.pk]},
                        headers=HTMX)
    assert (_ticked(region), _offered(region)) == (["Payroll 010"], ["ERP"])
    assert "Only the first" not in _text(region)
    region = client.get("/incidents/systems/", {"system_q": "nothing like it"}, headers=HTMX)
    assert "No other system matches “nothing like it”." in _text(region)
    # Bad ids are ignored, not a 500.
    region = client.get("/incidents/systems/", {"system_q": "crm", "affected_systems": ["x", "-1", "9" * 30]},
                        headers=HTMX)
    assert region.status_code == 200 and _offered(region) == ["CRM"]
    # Without htmx the address leads back to the form.
    assert client.get("/incidents/systems/?system_q=erp").status_code == 302


def test_without_javascript_find_brings_the_form_back_as_typed(published, lead, register, client_for):
    client = client_for(lead)
    form = {"title": "Payroll files encrypted", "summary": "Ransom note on the payroll server.",
            "detected_at": "2026-03-02T08:00", "reporter": "alice@example.com", "type_key": "ransomware",
            "data_involved": ["personal"], "system_q": "erp", "affected_systems": [register["CRM"].pk]}
    found = client.post("/incidents/declare/", form | {"find_systems": "1"})
    assert found.status_code == 200 and not Incident.objects.exists()
    assert (_ticked(found), _offered(found)) == (["CRM"], ["ERP"])
    assert 'value="Payroll files encrypted"' in found.content.decode() and "Nothing was saved" not in _text(found)
    # Tick ERP and declare: both are affected.
    declared = client.post("/incidents/declare/", form | {"affected_systems": [register["CRM"].pk, register["ERP"].pk]})
    assert declared.status_code == 302
    incident = Incident.objects.get()
    assert sorted(incident.affected_systems.values_list("name", flat=True)) == ["CRM", "ERP"]


def test_a_refused_declaration_keeps_the_chosen_systems(published, lead, register, client_for):
    refused = client_for(lead).post("/incidents/declare/", {
        "title": "", "summary": "x", "detected_at": "2026-03-02T08:00", "reporter": "alice@example.com",
        "type_key": "ransomware", "affected_systems": [register["ERP"].pk]})
    assert refused.status_code == 400 and _ticked(refused) == ["ERP"]


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.AUDITOR, Role.EMPLOYEE])
def test_only_those_who_declare_search_here(role, published, register, make_user, client_for):
    answer = client_for(make_user(role)).get("/incidents/systems/", {"system_q": "erp"}, headers=HTMX)
    assert answer.status_code == 403


def test_the_facts_form_finds_systems_the_same_way(published, lead, register, client_for):
    incident = actions.do_declare(acting_user=lead, title="Payroll files encrypted", summary="Ransom note.",
                                  detected_at=timezone.now() - timedelta(hours=1), reported_by="EDR", type_key="ransomware",
                                  affected_systems=[register["CRM"]])
    client = client_for(lead)
    page = client.get(f"/incidents/{incident.pk}/")
    assert _ticked(page) == ["CRM"] and _offered(page) == [] and "Payroll 150" not in _text(page)
    form = {"type_key": "ransomware", "severity": incident.severity, "fact_ransom_demanded": "on",
            "affected_systems": [register["CRM"].pk], "system_q": "erp"}
    found = client.post(f"/incidents/{incident.pk}/facts/", form | {"find_systems": "1"})
    assert found.status_code == 200 and (_ticked(found), _offered(found)) == (["CRM"], ["ERP"])
    incident.refresh_from_db()
    assert "ransom_demanded" not in incident.facts  # nothing saved by Find
    saved = client.post(f"/incidents/{incident.pk}/facts/", form | {"affected_systems": [register["ERP"].pk]},
                        follow=True)
    assert "Facts saved" in _text(saved)
    assert list(incident.affected_systems.values_list("name", flat=True)) == ["ERP"]
