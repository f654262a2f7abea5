"""The register pages as the security lead uses them: list, detail, form, budget."""

import pytest
from django.utils import timezone

from bastion.audit.models import AuditEntry
from bastion.systems.models import BusinessSystem, SecurityBudget

from .helpers import D, add_person, add_system, system_form


@pytest.fixture
def lead_client(client_for, lead):
    return client_for(lead)


def test_lead_adds_a_system_with_dependencies_and_it_is_audited(lead_client, db):
    owner = add_person(email="coo@example.com", first_name="Cora", last_name="Oh")
    idp = add_system("Okta")
    network = add_system("Network")
    response = lead_client.post("/systems/new/", system_form(
        owner_email="COO@example.com", depends_on="okta\nNetwork\n\nOkta", personal_data="on"), follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Warehouse management added to the register." in page
    system = BusinessSystem.objects.get(name="Warehouse management")
    assert system.owner == owner and system.personal_data and system.rto_hours == D(4)
    assert set(system.dependencies.all()) == {idp, network}
    assert f'href="/systems/{idp.pk}/"' in page and "Picking" in page
    entry = AuditEntry.objects.for_object(system).get()
    assert entry.action == "system.created" and entry.actor_label == "alice@example.com"
    assert entry.after["depends_on"] == ["Network", "Okta"] and entry.after["owner"] == "coo@example.com"
    # The dependency's page lists who depends on it.
    assert "Warehouse management" in lead_client.get(f"/systems/{idp.pk}/").content.decode()


@pytest.mark.parametrize(("fields", "field_error"), [
    ({"depends_on": "Okta\nNo such thing\nNor this"}, "No systems are called No such thing, Nor this."),
    ({"depends_on": "Warehouse management"}, "A system cannot depend on itself."),
    ({"rto_hours": "-1"}, "Enter 0 or more hours."),
    ({"data_classification": "secret"}, "Select a valid choice."),
    ({"owner_email": "ghost@example.com"}, "No person in the directory has the email address ghost@example.com."),
    ({"security_spend": "-5"}, "Enter an amount of 0 or more."),
    ({"name": "okta"}, "There is already a system called okta."),
])
def test_bad_input_is_refused_with_a_clear_message(lead_client, db, fields, field_error):
    add_system("Okta")
    response = lead_client.post("/systems/new/", system_form(**fields))
    assert response.status_code == 400
    page = response.content.decode()
    assert 'role="alert"' in page and field_error in page
    assert BusinessSystem.objects.count() == 1
    assert not AuditEntry.objects.filter(action="system.created").exists()


def test_edit_records_only_what_changed_and_warns_of_a_cycle(lead_client, db):
    erp = add_system("ERP", rto_hours=D(8))
    dwh = add_system("Data warehouse", depends_on=[erp])
    form = lead_client.get(f"/systems/{erp.pk}/edit/").content.decode()
    assert 'value="ERP"' in form
    response = lead_client.post(f"/systems/{erp.pk}/edit/", system_form(
        name="ERP", data_classification="internal", hosting="saas", rto_hours="8", rpo_hours="", mtd_hours="",
        security_spend="", users_count="", business_processes="", hosting_detail="",
        depends_on="Data warehouse"), follow=True)
    page = response.content.decode()
    assert "Saved." in page and "part of a dependency cycle" in page
    assert list(erp.dependencies.all()) == [dwh]
    entry = AuditEntry.objects.for_object(erp).get(action="system.updated")
    assert entry.before == {"depends_on": []} and entry.after == {"depends_on": ["Data warehouse"]}
    # Saving again without changes writes no entry.
    lead_client.post(f"/systems/{erp.pk}/edit/", system_form(
        name="ERP", data_classification="internal", hosting="saas", rto_hours="8.00", rpo_hours="", mtd_hours="",
        security_spend="", users_count="", business_processes="", hosting_detail="", depends_on="Data warehouse"))
    assert AuditEntry.objects.for_object(erp).filter(action="system.updated").count() == 1


def test_detail_warns_when_rto_exceeds_mtd_and_shows_history_to_lead_and_auditor(client_for, lead, make_user, db):
    tms = add_system("TMS", rto_hours=D(48), mtd_hours=D(24))
    client_for(lead).post(f"/systems/{tms.pk}/edit/", system_form(name="TMS", rto_hours="48", mtd_hours="24"))
    page = client_for(lead).get(f"/systems/{tms.pk}/").content.decode()
    assert "Recovery gap" in page and "Recent changes" in page and "system.updated" in page
    assert "Recent changes" in client_for(make_user("auditor")).get(f"/systems/{tms.pk}/").content.decode()
    team_page = client_for(make_user("security_team")).get(f"/systems/{tms.pk}/").content.decode()
    assert "Recovery gap" in team_page and "Recent changes" not in team_page
    assert "RTO &gt; MTD" in client_for(lead).get("/systems/").content.decode()


def test_list_searches_and_filters(lead_client, db):
    owner = add_person(email="cfo@example.com")
    add_system("Payment gateway", card_data=True, data_classification="restricted", owner=owner)
    add_system("Payroll", personal_data=True, hosting="on_premises")
    add_system("Intranet", data_classification="public")
    add_system("Old customs", status="retired")

    def names(**params) -> set[str]:
        page = lead_client.get("/systems/", params).content.decode()
        return {n for n in ("Payment gateway", "Payroll", "Intranet", "Old customs") if f">{n}</a>" in page}

    assert names() == {"Payment gateway", "Payroll", "Intranet"}
    assert names(q="pay") == {"Payment gateway", "Payroll"}
    assert names(status="retired") == {"Old customs"}
    assert names(classification="restricted") == {"Payment gateway"}
    assert names(hosting="on_premises") == {"Payroll"}
    assert names(owner="cfo@example.com") == {"Payment gateway"}
    assert names(regulated="any") == {"Payment gateway", "Payroll"}
    assert names(regulated="card_data") == {"Payment gateway"}
    assert names(regulated="none") == {"Intranet"}
    assert names(status="bogus", classification="nope") == {"Payment gateway", "Payroll", "Intranet"}
    htmx = lead_client.get("/systems/", {"q": "pay"}, headers={"HX-Request": "true"})
    assert htmx.content.decode().lstrip().startswith('<div id="results">')


def test_list_page_query_count_does_not_grow_with_rows(lead_client, db, django_assert_max_num_queries):
    owners = [add_person() for _ in range(5)]
    base = add_system("Base")
    for i in range(60):
        add_system(f"System {i:02d}", depends_on=[base], owner=owners[i % 5], security_spend=D(i))
    with django_assert_max_num_queries(10):
        response = lead_client.get("/systems/")
    assert response.status_code == 200 and "61 systems match" in response.content.decode()
    with django_assert_max_num_queries(10):
        lead_client.get("/systems/", {"page": 2})
    with django_assert_max_num_queries(10):
        lead_client.get("/systems/budget/")


def test_budget_page_sets_total_and_spend(client_for, lead, make_user, db):
    gateway = add_system("Payment gateway", security_spend=D(2000))
    intranet = add_system("Intranet", security_spend=D(45000))
    client = client_for(lead)
    page = client.get("/systems/budget/").content.decode()
    assert "Not set" in page and "47,000" in page
    response = client.post("/systems/budget/", {"total": "500000", "currency": "eur",
                                                f"spend_{gateway.pk}": "30000", f"spend_{intranet.pk}": "45000"},
                           follow=True)
    assert "Budget saved." in response.content.decode()
    budget = SecurityBudget.objects.get(year=timezone.localdate().year)
    assert budget.total == D(500000) and budget.currency == "EUR"
    gateway.refresh_from_db()
    assert gateway.security_spend == D(30000)
    entry = AuditEntry.objects.get(action="systems.budget_set")
    assert entry.after["security_spend"] == {"Payment gateway": "30000.00"}
    assert "Intranet" not in entry.after["security_spend"]

    bad = client.post("/systems/budget/", {"total": "-1", "currency": "EUR", f"spend_{gateway.pk}": "-3"})
    assert bad.status_code == 400
    assert "Enter an amount of 0 or more." in bad.content.decode()
    assert AuditEntry.objects.filter(action="systems.budget_set").count() == 1

    # Readers see the figures, without inputs.
    reader_page = client_for(make_user("executive")).get("/systems/budget/").content.decode()
    assert "500,000 EUR" in reader_page and "<input" not in reader_page.split("<main", 1)[1]
