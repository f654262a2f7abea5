import time

import pyotp
import pytest
from django.test import Client
from django.utils import timezone

from bastion.accounts.auth_views import PENDING_KEY
from bastion.accounts.models import MfaPolicy, Role, User
from bastion.audit.models import AuditEntry
from conftest import PASSWORD

from .helpers import code, secret_on_page, wrong_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def team_needs_mfa(no_mfa_policy):
    no_mfa_policy.required_roles = [Role.SECURITY_LEAD, Role.SECURITY_TEAM]
    no_mfa_policy.save()
    return no_mfa_policy


def with_mfa(user: User) -> str:
    user.mfa_secret = pyotp.random_base32()
    user.mfa_enabled_at = timezone.now()
    user.save()
    return user.mfa_secret


def sign_in_password(client: Client, email: str):
    return client.post("/login/", {"email": email, "password": PASSWORD})


def signed_in(client: Client) -> bool:
    return client.get("/account/").status_code == 200


def test_required_role_enrols_then_verifies_at_next_sign_in(client, make_user, team_needs_mfa):
    user = make_user(Role.SECURITY_TEAM, email="bob@example.com")

    response = sign_in_password(client, "bob@example.com")
    assert response["Location"] == "/login/mfa/"
    assert not signed_in(client)  # the password alone is not enough

    page = client.get("/login/mfa/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Set up your second factor" in html
    assert "<svg" in html and "<title>QR code" in html
    secret = secret_on_page(html)
    # Reloading the page offers the same secret (the app may already have scanned it).
    assert secret_on_page(client.get("/login/mfa/").content.decode()) == secret

    response = client.post("/login/mfa/", {"code": wrong_code(secret)})
    assert response.status_code == 400
    assert "That code is not valid" in response.content.decode()
    assert not signed_in(client)
    assert AuditEntry.objects.filter(action="login.mfa_failed", object_id=str(user.pk)).count() == 1

    enrol_code = code(secret)
    response = client.post("/login/mfa/", {"code": enrol_code})
    assert response.status_code == 302 and response["Location"] == "/"
    assert signed_in(client)
    user.refresh_from_db()
    assert user.mfa_enabled and user.mfa_secret == secret
    assert AuditEntry.objects.filter(action="mfa.enabled", actor=user).exists()
    assert AuditEntry.objects.filter(action="login.succeeded", actor=user).exists()

    # Next sign-in: a code is asked for, no QR code is shown, and the used code is refused.
    client.post("/logout/")
    assert sign_in_password(client, "bob@example.com")["Location"] == "/login/mfa/"
    html = client.get("/login/mfa/").content.decode()
    assert "Enter your code" in html and "<svg" not in html and secret not in html
    response = client.post("/login/mfa/", {"code": enrol_code})
    assert response.status_code == 400
    assert "That code is not valid" in response.content.decode()
    assert not signed_in(client)
    response = client.post("/login/mfa/", {"code": code(secret, 1)})
    assert response["Location"] == "/"
    assert signed_in(client)


def test_mfa_on_is_asked_for_even_when_the_role_does_not_require_it(client, make_user, no_mfa_policy):
    user = make_user(Role.EXECUTIVE, email="ceo@example.com")
    secret = with_mfa(user)
    assert sign_in_password(client, "ceo@example.com")["Location"] == "/login/mfa/"
    assert client.post("/login/mfa/", {"code": code(secret)})["Location"] == "/"


def test_role_without_mfa_signs_in_with_password(client, make_user, team_needs_mfa):
    make_user(Role.EMPLOYEE, email="emp@example.com")
    assert sign_in_password(client, "emp@example.com")["Location"] == "/"


def test_code_step_needs_the_password_step_first(client, make_user, team_needs_mfa):
    response = client.get("/login/mfa/")
    assert response["Location"] == "/login/"
    user = make_user(Role.SECURITY_TEAM, email="bob@example.com")
    secret = with_mfa(user)
    sign_in_password(client, "bob@example.com")
    session = client.session
    session[PENDING_KEY] = [user.pk, time.time() - 3600]  # the password was typed an hour ago
    session.save()
    response = client.post("/login/mfa/", {"code": code(secret)})
    assert response["Location"] == "/login/"
    assert not signed_in(client)


def test_a_code_race_lets_only_one_sign_in_through(client, make_user, team_needs_mfa):
    user = make_user(Role.SECURITY_TEAM, email="bob@example.com")
    secret = with_mfa(user)
    other = Client()
    sign_in_password(client, "bob@example.com")
    sign_in_password(other, "bob@example.com")
    the_code = code(secret)
    assert client.post("/login/mfa/", {"code": the_code})["Location"] == "/"
    assert other.post("/login/mfa/", {"code": the_code}).status_code == 400


def test_wrong_codes_are_throttled(client, make_user, team_needs_mfa):
    user = make_user(Role.SECURITY_TEAM, email="bob@example.com")
    secret = with_mfa(user)
    sign_in_password(client, "bob@example.com")
    for _ in range(5):
        assert client.post("/login/mfa/", {"code": wrong_code(secret)}).status_code == 400
    response = client.post("/login/mfa/", {"code": code(secret)})
    assert response.status_code == 400
    assert "try again in 15 minutes" in response.content.decode()
    assert not signed_in(client)
    assert AuditEntry.objects.filter(action="login.mfa_failed").count() == 5


def test_an_enrolment_secret_is_never_offered_to_the_next_person(client, make_user, team_needs_mfa):
    make_user(Role.SECURITY_TEAM, email="bob@example.com")
    make_user(Role.SECURITY_TEAM, email="carol@example.com")
    sign_in_password(client, "bob@example.com")
    bobs = secret_on_page(client.get("/login/mfa/").content.decode())
    sign_in_password(client, "carol@example.com")
    carols = secret_on_page(client.get("/login/mfa/").content.decode())
    assert bobs != carols


def test_lead_resets_a_lost_second_factor(client_for, make_user, lead, team_needs_mfa):
    user = make_user(Role.SECURITY_TEAM, email="bob@example.com")
    with_mfa(user)
    with_mfa(lead)  # the lead's own role requires it too
    response = client_for(lead).post(f"/accounts/users/{user.pk}/reset-mfa/", follow=True)
    assert "Second factor removed for bob@example.com" in response.content.decode()
    user.refresh_from_db()
    assert not user.mfa_enabled and user.mfa_secret == ""
    assert AuditEntry.objects.filter(action="mfa.reset", actor=lead, object_id=str(user.pk)).exists()
    # At the next sign-in they enrol again.
    browser = Client()
    sign_in_password(browser, "bob@example.com")
    assert "Set up your second factor" in browser.get("/login/mfa/").content.decode()


@pytest.mark.parametrize("role", [r for r in Role if r != Role.SECURITY_LEAD])
def test_only_the_lead_resets_mfa(client_for, make_user, role):
    target = make_user(Role.SECURITY_TEAM)
    with_mfa(target)
    assert client_for(make_user(role)).post(f"/accounts/users/{target.pk}/reset-mfa/").status_code == 403
    target.refresh_from_db()
    assert target.mfa_enabled


def test_policy_change_sends_a_signed_in_person_to_enrol(client_for, make_user, lead):
    member = make_user(Role.SECURITY_TEAM)
    browser = client_for(member)
    assert browser.get("/").status_code == 200

    response = client_for(lead).post("/accounts/mfa-policy/", {"required_roles": ["security_team", "auditor"]})
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="mfa.policy_changed")
    assert entry.actor_id == lead.pk
    assert entry.before == {"required_roles": []}
    assert entry.after == {"required_roles": ["auditor", "security_team"]}
    assert MfaPolicy.current().required_roles == ["auditor", "security_team"]

    response = browser.get("/people/")
    assert response.status_code == 302 and response["Location"] == "/account/mfa/"
    page = browser.get("/account/mfa/")
    html = page.content.decode()
    assert "Your role requires a second factor" in html
    secret = secret_on_page(html)
    assert browser.post("/account/mfa/", {"code": wrong_code(secret)}).status_code == 400
    response = browser.post("/account/mfa/", {"code": code(secret)})
    assert response["Location"] == "/account/"
    assert browser.get("/").status_code == 200
    member.refresh_from_db()
    assert member.mfa_enabled


def test_anyone_may_turn_on_mfa_for_themselves(client_for, make_user):
    user = make_user(Role.EMPLOYEE)
    browser = client_for(user)
    secret = secret_on_page(browser.get("/account/mfa/").content.decode())
    assert browser.post("/account/mfa/", {"code": code(secret)})["Location"] == "/account/"
    assert "On since" in browser.get("/account/").content.decode()
    # Once on, the enrolment page is closed: the secret cannot be replaced from a session.
    assert browser.get("/account/mfa/")["Location"] == "/account/"


@pytest.mark.parametrize("role", [r for r in Role if r != Role.SECURITY_LEAD])
def test_only_the_lead_sets_the_policy(client_for, make_user, role):
    browser = client_for(make_user(role))
    assert browser.get("/accounts/mfa-policy/").status_code == 403
    assert browser.post("/accounts/mfa-policy/", {"required_roles": []}).status_code == 403
