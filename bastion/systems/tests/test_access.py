"""Who may see and change the register, for every role and anonymous, on the pages and in the API."""

import io

import pytest

from bastion.accounts.models import Role
from bastion.systems.models import BusinessSystem
from conftest import ALL_ROLES

from .helpers import add_system, system_form

READERS = {Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.EXECUTIVE, Role.BUSINESS_LEADER, Role.AUDITOR}
EDITORS = {Role.SECURITY_LEAD, Role.SECURITY_TEAM}
JSON = "application/json"


@pytest.fixture
def erp(db):
    idp = add_system("Identity provider")
    return add_system("ERP", depends_on=[idp])


def _read_status(role) -> int:
    return 200 if role in READERS else 403


def _edit_status(role) -> int:
    return 200 if role in EDITORS else 403


PAGES = ["/systems/", "/systems/new/", "/systems/{pk}/", "/systems/{pk}/edit/", "/systems/budget/",
         "/systems/import/"]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_is_sent_to_sign_in(client, erp, url):
    url = url.format(pk=erp.pk)
    for response in (client.get(url), client.post(url, {"name": "x"})):
        assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("role", ALL_ROLES)
def test_pages_by_role(client_for, make_user, erp, role):
    client = client_for(make_user(role))
    expected = {
        "/systems/": _read_status(role), f"/systems/{erp.pk}/": _read_status(role),
        "/systems/budget/": _read_status(role), "/systems/new/": _edit_status(role),
        f"/systems/{erp.pk}/edit/": _edit_status(role), "/systems/import/": _edit_status(role),
    }
    for url, status in expected.items():
        response = client.get(url)
        assert response.status_code == status, url
    if role in READERS:
        page = client.get("/systems/").content.decode()
        assert "ERP" in page
        assert ('href="/systems/new/"' in page) == (role in EDITORS)
        assert 'href="/systems/"' in client.get("/").content.decode()  # the nav offers Systems
    else:
        assert 'href="/systems/"' not in client.get("/").content.decode()


@pytest.mark.parametrize("role", ALL_ROLES)
def test_writes_by_role(client_for, make_user, erp, role):
    client = client_for(make_user(role))
    created = client.post("/systems/new/", system_form(name="CRM"))
    edited = client.post(f"/systems/{erp.pk}/edit/", system_form(name="ERP renamed"))
    budget = client.post("/systems/budget/", {"total": "1000", "currency": "EUR"})
    upload = io.BytesIO(b"name\nPayroll\n")
    upload.name = "s.csv"
    imported = client.post("/systems/import/", {"file": upload})
    applied = client.post("/systems/import/", {"action": "apply", "content": "name\nPayroll\n", "filename": "s.csv"})
    if role in EDITORS:
        assert created.status_code == 302 and edited.status_code == 302 and budget.status_code == 302
        assert imported.status_code == 200 and applied.status_code == 302
        assert BusinessSystem.objects.filter(name__in=["CRM", "ERP renamed", "Payroll"]).count() == 3
    else:
        for response in (created, edited, budget, imported, applied):
            assert response.status_code == 403
        assert set(BusinessSystem.objects.values_list("name", flat=True)) == {"ERP", "Identity provider"}


def test_unknown_system_is_404(client_for, lead, erp):
    assert client_for(lead).get("/systems/999999/").status_code == 404
    assert client_for(lead).get("/systems/999999/edit/").status_code == 404


def test_api_anonymous_is_401(client, erp):
    assert client.get("/api/v1/systems").status_code == 401
    assert client.get(f"/api/v1/systems/{erp.pk}").status_code == 401
    assert client.post("/api/v1/systems", {"name": "x"}, content_type=JSON).status_code == 401
    assert client.patch(f"/api/v1/systems/{erp.pk}", {"name": "x"}, content_type=JSON).status_code == 401


@pytest.mark.parametrize("role", ALL_ROLES)
def test_api_by_role(api_for, make_user, erp, role):
    api = api_for(make_user(role))
    assert api.get("/api/v1/systems").status_code == _read_status(role)
    assert api.get(f"/api/v1/systems/{erp.pk}").status_code == _read_status(role)
    created = api.post("/api/v1/systems", {"name": "CRM"}, content_type=JSON)
    patched = api.patch(f"/api/v1/systems/{erp.pk}", {"users_count": 10}, content_type=JSON)
    if role in EDITORS:
        assert created.status_code == 201 and patched.status_code == 200
    else:
        assert created.status_code == 403 and patched.status_code == 403
        assert not BusinessSystem.objects.filter(name="CRM").exists()
        assert BusinessSystem.objects.get(pk=erp.pk).users_count is None
