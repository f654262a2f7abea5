import io

import pytest
from django.core.management import call_command
from django.test import Client

from bastion.accounts.actions import do_create_token
from bastion.accounts.models import ApiToken, Role
from bastion.audit.models import AuditEntry

from .helpers import new_token_on_page

pytestmark = pytest.mark.django_db

UNAUTHENTICATED = {"detail": "A valid API token is required (Authorization: Bearer <token>)."}


def bearer(raw: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {raw}"})


def everything_in_the_database() -> str:
    out = io.StringIO()
    call_command("dumpdata", stdout=out)
    return out.getvalue()


def test_token_is_shown_once_stored_hashed_and_works(client_for, make_user):
    user = make_user(Role.SECURITY_TEAM, email="bob@example.com")
    browser = client_for(user)
    response = browser.post("/account/tokens/", {"name": "HR sync script"})
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0") and "no-store" in response["Cache-Control"]
    raw = new_token_on_page(response.content.decode())
    assert raw and raw.startswith("bst_")
    assert "copy it now, it will not be shown again" in response.content.decode()

    # Not on reload, and nowhere in the database (not in the token table, session or audit trail).
    assert new_token_on_page(browser.get("/account/").content.decode()) is None
    assert raw not in browser.get("/account/").content.decode()
    assert raw not in everything_in_the_database()
    token = ApiToken.objects.get(user=user)
    assert token.name == "HR sync script" and token.hint == raw[:8] and token.last_used_at is None
    entry = AuditEntry.objects.get(action="token.created")
    assert entry.actor_id == user.pk and entry.after["name"] == "HR sync script"

    response = bearer(raw).get("/api/v1/me")
    assert response.status_code == 200
    assert response.json() == {"id": user.pk, "email": "bob@example.com", "full_name": user.full_name,
                               "role": "security_team"}
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert "HR sync script" in browser.get("/account/").content.decode()


def test_revoked_token_stops_working(client_for, make_user):
    user = make_user(Role.SECURITY_TEAM)
    browser = client_for(user)
    raw = new_token_on_page(browser.post("/account/tokens/", {"name": "laptop"}).content.decode())
    assert bearer(raw).get("/api/v1/me").status_code == 200
    token = ApiToken.objects.get(user=user)
    response = browser.post(f"/account/tokens/{token.pk}/revoke/", follow=True)
    assert "Token “laptop” revoked." in response.content.decode()
    response = bearer(raw).get("/api/v1/me")
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED
    entry = AuditEntry.objects.get(action="token.revoked")
    assert entry.actor_id == user.pk and entry.object_id == str(token.pk)


def test_nobody_revokes_another_persons_token(client_for, make_user, lead):
    owner = make_user(Role.SECURITY_TEAM)
    token, raw = do_create_token(user=owner, name="x")
    for someone in (make_user(Role.EMPLOYEE), lead):
        assert client_for(someone).post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    assert bearer(raw).get("/api/v1/me").status_code == 200
    assert Client().post(f"/account/tokens/{token.pk}/revoke/")["Location"].startswith("/login/")


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Bearer garbage", "Basic dXNlcjpwYXNz",
                                    "Bearer bst_" + "x" * 43, "Bearer bst_" + "x" * 200])
def test_missing_or_garbage_header_is_401_with_a_clear_message(header):
    client = Client(headers={"Authorization": header}) if header is not None else Client()
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED


def test_a_signed_in_browser_session_is_not_an_api_credential(client_for, make_user):
    assert client_for(make_user(Role.SECURITY_LEAD)).get("/api/v1/me").status_code == 401


def test_token_needs_a_name(client_for, make_user):
    browser = client_for(make_user(Role.EMPLOYEE))
    response = browser.post("/account/tokens/", {"name": "  "})
    assert response.status_code == 400
    assert "Give the token a name" in response.content.decode()
    assert not ApiToken.objects.exists()
    assert browser.get("/account/tokens/").status_code == 405


def test_last_used_is_written_at_most_once_a_minute(make_user, api_for, django_assert_max_num_queries):
    script = api_for(make_user(Role.EMPLOYEE))
    script.get("/api/v1/me")
    with django_assert_max_num_queries(1):  # the token lookup only: no write
        assert script.get("/api/v1/me").status_code == 200
