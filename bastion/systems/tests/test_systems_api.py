"""The register over JSON, as a script would use it."""

import pytest

from bastion.audit.models import AuditEntry
from bastion.systems.models import BusinessSystem

from .helpers import D, add_person, add_system

JSON = "application/json"


@pytest.fixture
def api(api_for, lead):
    return api_for(lead)


def test_list_get_and_filters(api, db):
    owner = add_person(email="cfo@example.com")
    idp = add_system("Okta")
    erp = add_system("ERP", depends_on=[idp], owner=owner, data_classification="restricted",
                     rto_hours=D("8.5"), business_processes="Order to cash\nProcure to pay")
    add_system("Old customs", status="retired")
    body = api.get("/api/v1/systems").json()
    assert body["count"] == 3 and [s["name"] for s in body["items"]] == ["ERP", "Okta", "Old customs"]
    first = body["items"][0]
    assert first["owner"] == "cfo@example.com" and first["dependency_count"] == 1
    assert first["business_processes"] == ["Order to cash", "Procure to pay"] and first["rto_hours"] == "8.50"
    assert api.get("/api/v1/systems", {"q": "ok"}).json()["count"] == 1
    assert api.get("/api/v1/systems", {"status": "retired"}).json()["items"][0]["name"] == "Old customs"
    assert api.get("/api/v1/systems", {"classification": "restricted"}).json()["count"] == 1
    assert api.get("/api/v1/systems", {"owner": "CFO@example.com"}).json()["count"] == 1
    assert api.get("/api/v1/systems", {"limit": 1, "offset": 1}).json()["items"][0]["name"] == "Okta"
    assert api.get("/api/v1/systems", {"classification": "secret"}).status_code == 422
    assert api.get("/api/v1/systems", {"limit": 0}).status_code == 422

    detail = api.get(f"/api/v1/systems/{idp.pk}").json()
    assert detail["dependents"] == [{"id": erp.pk, "name": "ERP"}] and detail["dependencies"] == []
    assert api.get(f"/api/v1/systems/{erp.pk}").json()["dependencies"] == [{"id": idp.pk, "name": "Okta"}]
    assert api.get("/api/v1/systems/99999").status_code == 404


def test_create_and_patch(api, db):
    add_person(email="coo@example.com")
    idp = add_system("Okta")
    response = api.post("/api/v1/systems", {
        "name": "WMS", "owner": "coo@example.com", "depends_on": ["okta"], "rto_hours": 4, "mtd_hours": 8,
        "card_data": True, "business_processes": ["Picking", "Shipping"], "security_spend": "1500.50",
    }, content_type=JSON)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["dependencies"] == [{"id": idp.pk, "name": "Okta"}] and body["card_data"] is True
    wms = BusinessSystem.objects.get(name="WMS")
    assert wms.security_spend == D("1500.50") and wms.business_processes == "Picking\nShipping"
    assert AuditEntry.objects.for_object(wms).get().action == "system.created"

    patched = api.patch(f"/api/v1/systems/{wms.pk}", {"users_count": 300, "card_data": False},
                        content_type=JSON)
    assert patched.status_code == 200, patched.content
    wms.refresh_from_db()
    assert wms.users_count == 300 and not wms.card_data and wms.rto_hours == D(4)
    assert [d.name for d in wms.dependencies.all()] == ["Okta"]  # untouched when not sent
    entry = AuditEntry.objects.for_object(wms).get(action="system.updated")
    assert entry.after == {"users_count": 300, "card_data": False}

    cleared = api.patch(f"/api/v1/systems/{wms.pk}", {"depends_on": [], "rto_hours": None}, content_type=JSON)
    assert cleared.status_code == 200 and cleared.json()["dependencies"] == [] and cleared.json()["rto_hours"] is None


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"name": "X", "depends_on": ["Nope"]}, "depends_on", "No system is called Nope."),
    ({"name": "X", "depends_on": ["X"]}, "depends_on", "A system cannot depend on itself."),
    ({"name": "X", "rto_hours": -1}, "rto_hours", "Enter 0 or more hours."),
    ({"name": "X", "data_classification": "secret"}, "data_classification", "Select a valid choice."),
    ({"name": "X", "owner": "ghost@example.com"}, "owner", "No person in the directory"),
    ({"name": "X", "users_count": -3}, "users_count", "Enter 0 or more users."),
    ({"name": "X", "security_spend": "1e40"}, "security_spend", "digits"),
    ({"name": "", "hosting": "moon"}, "hosting", "Select a valid choice."),
])
def test_bad_input_is_422_with_field_messages(api, db, body, field, message):
    response = api.post("/api/v1/systems", body, content_type=JSON)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert any(e["loc"][-1] == field and message in e["msg"] for e in detail), detail
    assert not BusinessSystem.objects.exists()


def test_malformed_bodies_are_never_a_500(api, db):
    erp = add_system("ERP")
    for body in ('{"name": "X", "rto_hours": "lots"}', '{"name": 5, "unknown": 1}', "not json",
                 '{"name": "X", "depends_on": "ERP"}', '{"name": "X", "rto_hours": "NaN"}'):
        assert api.post("/api/v1/systems", body, content_type=JSON).status_code in (400, 422), body
        assert api.patch(f"/api/v1/systems/{erp.pk}", body, content_type=JSON).status_code in (400, 422), body
    self_dep = api.patch(f"/api/v1/systems/{erp.pk}", {"depends_on": ["erp"]}, content_type=JSON)
    assert self_dep.status_code == 422


def test_list_query_count_does_not_grow_with_rows(api, db, django_assert_max_num_queries):
    base = add_system("Base")
    owner = add_person()
    for i in range(60):
        add_system(f"System {i:02d}", depends_on=[base], owner=owner)
    with django_assert_max_num_queries(6):
        body = api.get("/api/v1/systems", {"limit": 100}).json()
    assert body["count"] == 61 and len(body["items"]) == 61
