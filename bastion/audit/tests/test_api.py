from datetime import UTC, datetime

import pytest
from django.test import Client

from bastion.accounts.models import Role
from bastion.audit import chain
from bastion.audit.models import AuditEntry
from conftest import ALL_ROLES

from .helpers import entries

pytestmark = pytest.mark.django_db


def seqs(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["seq"] for item in response.json()["items"]]


@pytest.fixture
def auditor_api(api_for, make_user) -> Client:
    return api_for(make_user(Role.AUDITOR, email="audrey@example.com"))


@pytest.mark.parametrize("role", ALL_ROLES)
def test_access_by_role(api_for, make_user, role):
    api = api_for(make_user(role))
    expected = 200 if role in (Role.SECURITY_LEAD, Role.AUDITOR) else 403
    assert api.get("/api/v1/audit").status_code == expected
    response = api.get("/api/v1/audit/1")
    assert response.status_code == expected
    if expected == 403:
        assert response.json() == {"detail": "You do not have access to this."}


def test_no_token_is_401():
    response = Client().get("/api/v1/audit")
    assert response.status_code == 401
    assert "A valid API token is required" in response.json()["detail"]


def test_read_only(auditor_api):
    for method in ("post", "put", "patch", "delete"):
        assert getattr(auditor_api, method)("/api/v1/audit").status_code == 405
        assert getattr(auditor_api, method)("/api/v1/audit/1").status_code == 405


def test_one_entry_in_full(auditor_api):
    entry = AuditEntry.objects.get(seq=1)  # the token's own creation
    body = auditor_api.get("/api/v1/audit/1").json()
    assert body["seq"] == 1 and body["action"] == "token.created" and body["hash"] == entry.hash
    assert body["prev_hash"] == entry.prev_hash and body["actor_label"] == "audrey@example.com"
    assert body["after"]["name"] == "test"
    response = auditor_api.get("/api/v1/audit/999")
    assert response.status_code == 404 and response.json() == {"detail": "No audit entry with this number."}


def test_paginated_newest_first(auditor_api, django_assert_max_num_queries):
    entries(120)
    auditor_api.get("/api/v1/me")  # the token's first use is recorded; later ones within a minute are not
    with django_assert_max_num_queries(3):  # token, count, page
        response = auditor_api.get("/api/v1/audit?action=test.")
    body = response.json()
    assert body["count"] == 120 and len(body["items"]) == 50
    assert seqs(response)[:2] == [121, 120]
    assert seqs(auditor_api.get("/api/v1/audit?action=test.&limit=10&offset=110")) == list(range(11, 1, -1))
    assert seqs(auditor_api.get("/api/v1/audit?action=test.&limit=3&order=oldest")) == [2, 3, 4]
    assert auditor_api.get("/api/v1/audit?limit=5000").status_code == 422


def test_filters(auditor_api, monkeypatch):
    monkeypatch.setattr(chain.timezone, "now", lambda: datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    chain.record("login.failed", actor_label="bob@example.com", object_type="accounts.user", object_id="7")
    monkeypatch.setattr(chain.timezone, "now", lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    chain.record("login.succeeded", actor_label="carol@example.com", object_type="accounts.user", object_id="8")
    chain.record("logout", actor_label="carol@example.com", object_type="accounts.user", object_id="8")
    monkeypatch.undo()
    api = auditor_api
    assert seqs(api.get("/api/v1/audit?action=login")) == [3, 2]
    assert seqs(api.get("/api/v1/audit?actor=carol")) == [4, 3]
    assert seqs(api.get("/api/v1/audit?object_type=accounts.user&object_id=7")) == [2]
    assert seqs(api.get("/api/v1/audit?object_type=accounts.apitoken")) == [1]
    assert seqs(api.get("/api/v1/audit?since=2026-03-02&until=2026-03-02")) == [4, 3]
    assert seqs(api.get("/api/v1/audit?until=2026-03-01")) == [2]
    assert seqs(api.get("/api/v1/audit?since=2026-03-01T09:00:00Z&until=2026-03-01T09:00:01Z")) == [2]
    assert seqs(api.get("/api/v1/audit?since=2026-03-01T10:00:00%2B01:00&until=2026-03-01T10:00:01%2B01:00")) == [2]


@pytest.mark.parametrize("query", ["since=yesterday", "until=2026-02-30", "since=2026-03-01T25:00",
                                   "until=9999-12-31"])
def test_bad_dates_are_a_clear_400(auditor_api, query):
    response = auditor_api.get(f"/api/v1/audit?{query}")
    assert response.status_code == 400
    assert "is not a date (YYYY-MM-DD) or an ISO 8601 date-time" in response.json()["detail"]


def test_listed_in_the_openapi_document(auditor_api):
    paths = auditor_api.get("/api/v1/openapi.json").json()["paths"]
    assert set(paths["/api/v1/audit"]) == {"get"}
    assert set(paths["/api/v1/audit/{seq}"]) == {"get"}
