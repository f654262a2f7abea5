import pytest
from django.test import Client

from bastion.accounts.models import Role, User
from bastion.audit.models import AuditEntry
from conftest import ALL_ROLES, PASSWORD

pytestmark = pytest.mark.django_db

CANNOT_VIEW = [r for r in ALL_ROLES if r not in (Role.SECURITY_LEAD, Role.AUDITOR)]
CANNOT_CHANGE = [r for r in ALL_ROLES if r != Role.SECURITY_LEAD]


@pytest.fixture
def bob(make_user):
    return make_user(Role.SECURITY_TEAM, email="bob@example.com", full_name="Bob Team")


# --- who may do what, for every role --------------------------------------------------------

@pytest.mark.parametrize("role", ALL_ROLES)
def test_user_pages_by_role(client_for, make_user, bob, role):
    browser = client_for(make_user(role))
    can_view = role in (Role.SECURITY_LEAD, Role.AUDITOR)
    can_change = role == Role.SECURITY_LEAD
    assert browser.get("/accounts/users/").status_code == (200 if can_view else 403)
    assert browser.get(f"/accounts/users/{bob.pk}/").status_code == (200 if can_view else 403)
    assert browser.get("/accounts/users/new/").status_code == (200 if can_change else 403)

    response = browser.post("/accounts/users/new/", {"email": "new@example.com", "role": "employee"})
    assert response.status_code == (302 if can_change else 403)
    assert User.objects.filter(email="new@example.com").exists() == can_change

    response = browser.post(f"/accounts/users/{bob.pk}/", {"full_name": "Bob", "role": "auditor", "is_active": "on"})
    assert response.status_code == (302 if can_change else 403)
    bob.refresh_from_db()
    assert (bob.role == Role.AUDITOR) == can_change

    response = browser.post(f"/accounts/users/{bob.pk}/password/", {"password": "a brand new long passphrase"})
    assert response.status_code == (302 if can_change else 403)
    bob.refresh_from_db()
    assert bob.check_password("a brand new long passphrase") == can_change


@pytest.mark.parametrize("url", ["/accounts/users/", "/accounts/users/new/", "/accounts/users/1/",
                                 "/accounts/mfa-policy/", "/account/", "/account/mfa/"])
def test_anonymous_is_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_anonymous_posts_change_nothing(client, bob):
    response = client.post(f"/accounts/users/{bob.pk}/", {"role": "security_lead", "is_active": "on"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    bob.refresh_from_db()
    assert bob.role == Role.SECURITY_TEAM


def test_auditor_sees_users_but_no_change_controls(client_for, make_user, bob):
    browser = client_for(make_user(Role.AUDITOR))
    html = browser.get(f"/accounts/users/{bob.pk}/").content.decode()
    assert "bob@example.com" in html
    assert "Set password" not in html and ">Save<" not in html
    assert "Add user" not in browser.get("/accounts/users/").content.decode()


def test_unknown_user_is_404(client_for, lead):
    assert client_for(lead).get("/accounts/users/999999/").status_code == 404


# --- what the lead does ---------------------------------------------------------------------

def test_lead_creates_a_user_and_it_is_audited(client_for, lead):
    browser = client_for(lead)
    response = browser.post("/accounts/users/new/", {
        "email": "Dana@Example.com", "full_name": "Dana Exec", "role": "executive",
        "password": "dana's long enough passphrase",
    }, follow=True)
    assert "User dana@example.com created." in response.content.decode()
    dana = User.objects.get(email="dana@example.com")
    assert dana.role == Role.EXECUTIVE and dana.check_password("dana's long enough passphrase")
    entry = AuditEntry.objects.get(action="user.created", object_id=str(dana.pk))
    assert entry.actor_id == lead.pk
    assert entry.after["role"] == "executive" and entry.after["email"] == "dana@example.com"
    assert "passphrase" not in str(entry.after)


def test_create_refuses_bad_input_with_clear_errors(client_for, lead, bob):
    browser = client_for(lead)
    response = browser.post("/accounts/users/new/", {"email": "BOB@example.com", "role": "employee"})
    assert response.status_code == 400
    assert "A user with this email already exists." in response.content.decode()
    response = browser.post("/accounts/users/new/", {"email": "eve@example.com", "role": "employee", "password": "short"})
    assert response.status_code == 400
    assert "This password is too short" in response.content.decode()
    response = browser.post("/accounts/users/new/", {"email": "not an email", "role": "superuser"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a valid email address." in html
    assert "Select a valid choice" in html
    assert not User.objects.filter(email="eve@example.com").exists()


def test_role_change_is_audited_with_before_and_after(client_for, lead, bob):
    response = client_for(lead).post(f"/accounts/users/{bob.pk}/",
                                     {"full_name": "Bob Team", "role": "auditor", "is_active": "on"})
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="user.role_changed")
    assert entry.actor_id == lead.pk and entry.object_id == str(bob.pk)
    assert entry.before == {"role": "security_team"}
    assert entry.after == {"role": "auditor"}


def test_lead_cannot_demote_or_deactivate_themself(client_for, lead):
    browser = client_for(lead)
    for data in ({"full_name": "Alice Lead", "role": "auditor", "is_active": "on"},
                 {"full_name": "Alice Lead", "role": "security_lead"}):
        response = browser.post(f"/accounts/users/{lead.pk}/", data)
        assert response.status_code == 400
        assert "You cannot change your own role or deactivate yourself" in response.content.decode()
    lead.refresh_from_db()
    assert lead.role == Role.SECURITY_LEAD and lead.is_active
    # Their own name they may change.
    assert browser.post(f"/accounts/users/{lead.pk}/", {"full_name": "Alice L.", "role": "security_lead",
                                                        "is_active": "on"}).status_code == 302


def test_deactivated_user_is_signed_out_cannot_sign_in_and_tokens_stop(client_for, api_for, lead, bob, no_mfa_policy):
    bobs_browser = Client()
    assert bobs_browser.post("/login/", {"email": "bob@example.com", "password": PASSWORD}).status_code == 302
    bobs_script = api_for(bob)
    assert bobs_script.get("/api/v1/me").status_code == 200

    response = client_for(lead).post(f"/accounts/users/{bob.pk}/", {"full_name": "Bob Team", "role": "security_team"})
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="user.deactivated")
    assert entry.before == {"is_active": True} and entry.after == {"is_active": False}

    assert bobs_browser.get("/").status_code == 302  # the open session ends
    response = Client().post("/login/", {"email": "bob@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert bobs_script.get("/api/v1/me").status_code == 401

    # Reactivated: the same token works again (it was never revoked).
    client_for(lead).post(f"/accounts/users/{bob.pk}/", {"full_name": "Bob Team", "role": "security_team", "is_active": "on"})
    assert AuditEntry.objects.filter(action="user.reactivated").exists()
    assert bobs_script.get("/api/v1/me").status_code == 200


def test_lead_sets_a_password_that_passes_the_validators(client_for, lead, bob):
    browser = client_for(lead)
    response = browser.post(f"/accounts/users/{bob.pk}/password/", {"password": "password"}, follow=True)
    assert "This password is too short" in response.content.decode()
    bob.refresh_from_db()
    assert bob.check_password(PASSWORD)
    browser.post(f"/accounts/users/{bob.pk}/password/", {"password": "a brand new long passphrase"})
    bob.refresh_from_db()
    assert bob.check_password("a brand new long passphrase")
    entry = AuditEntry.objects.get(action="user.password_set")
    assert entry.before is None and entry.after is None


def test_user_list_filters_and_has_a_bounded_query_count(client_for, make_user, lead, django_assert_max_num_queries):
    for n in range(30):
        make_user(Role.EMPLOYEE, email=f"emp{n}@example.com")
    browser = client_for(lead)
    with django_assert_max_num_queries(8):
        response = browser.get("/accounts/users/")
    assert response.status_code == 200
    html = main(browser.get("/accounts/users/?role=security_lead"))
    assert "alice@example.com" in html and "emp1@example.com" not in html
    html = main(browser.get("/accounts/users/?q=emp2"))
    assert "emp2@example.com" in html and "alice@example.com" not in html
    html = main(browser.get("/accounts/users/?q=%3Cscript%3E"))
    assert "<script>" not in html and "&lt;script&gt;" in html


def main(response) -> str:
    """The page's own content, without the header that names the signed-in person."""
    return response.content.decode().split('<main id="main"', 1)[1]
