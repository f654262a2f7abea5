"""Odd input found by fuzzing answers with a clear 4xx, never a 500."""

import pytest

from bastion.accounts.models import Role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", [
    "/people/?q=a%00b", "/people/?department=%00", "/people/groups/?q=%00", "/accounts/users/?q=%00",
    "/audit/?actor=%00",
])
def test_nul_in_page_filters_is_a_clear_400(client_for, make_user, url):
    client = client_for(make_user(Role.SECURITY_LEAD))
    response = client.get(url)
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


@pytest.mark.parametrize("url", ["/api/v1/people?department=%00", "/api/v1/audit?actor=%00", "/api/v1/groups?q=%00"])
def test_nul_in_api_filters_is_a_clear_400(api_for, make_user, url):
    response = api_for(make_user(Role.SECURITY_LEAD)).get(url)
    assert response.status_code == 400
    assert "NUL character" in response.json()["detail"]


def test_audit_page_ignores_non_ascii_digits(client_for, make_user):
    client = client_for(make_user(Role.AUDITOR))
    assert client.get("/audit/", {"before": "²"}).status_code == 200
    assert client.get("/audit/", {"after": "①"}).status_code == 200


def test_audit_api_refuses_an_offset_out_of_range(api_for, make_user):
    response = api_for(make_user(Role.AUDITOR)).get("/api/v1/audit", {"offset": "9999999999999999999"})
    assert response.status_code == 422


@pytest.mark.parametrize("url", [
    "/api/v1/people?updated_since=0001-01-01T00:00:00%2B05:00",
    "/api/v1/audit?since=9999-12-31T23:59:59-05:00",
])
def test_datetimes_at_the_edge_of_the_calendar_are_refused_clearly(api_for, make_user, url):
    response = api_for(make_user(Role.SECURITY_LEAD)).get(url)
    assert response.status_code in (400, 422)
    assert "detail" in response.json()
