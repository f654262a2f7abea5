import pytest
from django.test import Client

from bastion.accounts import throttle
from bastion.accounts.models import LoginAttempt, Role
from bastion.audit.models import AuditEntry
from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_sign_in_with_password_reaches_home(client, make_user, no_mfa_policy):
    make_user(Role.SECURITY_TEAM, email="bob@example.com")
    response = client.post("/login/", {"email": "bob@example.com", "password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert b"Welcome" in response.content
    assert AuditEntry.objects.filter(action="login.succeeded", actor_label="bob@example.com").exists()


def test_email_is_not_case_sensitive(client, make_user, no_mfa_policy):
    make_user(Role.SECURITY_TEAM, email="bob@example.com")
    response = client.post("/login/", {"email": "Bob@Example.COM", "password": PASSWORD})
    assert response.status_code == 302


def test_wrong_password_is_refused_and_audited(client, make_user, no_mfa_policy):
    make_user(Role.SECURITY_TEAM, email="bob@example.com")
    response = client.post("/login/", {"email": "bob@example.com", "password": "nope"})
    assert response.status_code == 400
    assert "do not match" in response.content.decode()
    assert AuditEntry.objects.filter(action="login.failed", actor_label="bob@example.com").exists()
    assert "_auth_user_id" not in client.session


def test_unknown_email_gets_the_same_answer(client, no_mfa_policy):
    response = client.post("/login/", {"email": "nobody@example.com", "password": "whatever it is"})
    assert response.status_code == 400
    assert "do not match" in response.content.decode()


def test_empty_form_is_a_clear_error(client, no_mfa_policy):
    response = client.post("/login/", {"email": "", "password": ""})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()


def test_session_key_is_rotated_at_sign_in(client, make_user, no_mfa_policy):
    make_user(Role.SECURITY_TEAM, email="bob@example.com")
    before = client.session.session_key  # an anonymous session, as a browser would have
    client.post("/login/", {"email": "bob@example.com", "password": PASSWORD})
    after = client.cookies["sessionid"].value
    assert after and after != before
    # The old key no longer names a signed-in session.
    stale = Client()
    stale.cookies["sessionid"] = before
    assert stale.get("/").status_code == 302


def test_next_is_followed_only_within_the_site(client, make_user, no_mfa_policy):
    make_user(Role.SECURITY_TEAM, email="bob@example.com")
    response = client.post("/login/?next=/account/", {"email": "bob@example.com", "password": PASSWORD,
                                                      "next": "/account/"})
    assert response["Location"] == "/account/"
    other = Client()
    response = other.post("/login/", {"email": "bob@example.com", "password": PASSWORD,
                                      "next": "https://evil.example.net/"})
    assert response["Location"] == "/"


def test_anonymous_is_sent_to_login(client):
    response = client.get("/account/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/account/")


def test_logout_is_post_only_and_audited(client_for, make_user):
    user = make_user(Role.SECURITY_TEAM)
    client = client_for(user)
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response["Location"] == "/login/"
    assert client.get("/").status_code == 302
    assert AuditEntry.objects.filter(action="logout", actor=user).exists()


def test_five_failures_block_even_the_right_password(client, make_user, no_mfa_policy):
    make_user(Role.SECURITY_TEAM, email="bob@example.com")
    for _ in range(5):
        response = client.post("/login/", {"email": "bob@example.com", "password": "wrong guess"})
        assert response.status_code == 400
    response = client.post("/login/", {"email": "bob@example.com", "password": PASSWORD})
    assert response.status_code == 400
    text = response.content.decode()
    assert "Too many failed sign-in attempts" in text
    assert "try again in 15 minutes" in text
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(action="login.failed", actor_label="bob@example.com").count() == 5
    # The block is per account: someone else signs in from elsewhere.
    make_user(Role.SECURITY_TEAM, email="carol@example.com")
    other = Client(REMOTE_ADDR="10.0.0.9")
    assert other.post("/login/", {"email": "carol@example.com", "password": PASSWORD}).status_code == 302


def test_block_lifts_when_the_failures_age_out(client, make_user, no_mfa_policy):
    make_user(Role.SECURITY_TEAM, email="bob@example.com")
    for _ in range(5):
        client.post("/login/", {"email": "bob@example.com", "password": "wrong guess"})
    LoginAttempt.objects.update(at=LoginAttempt.objects.first().at - throttle.WINDOW)
    response = client.post("/login/", {"email": "bob@example.com", "password": PASSWORD})
    assert response.status_code == 302


def test_a_successful_sign_in_resets_the_account_count(client, make_user, no_mfa_policy):
    make_user(Role.SECURITY_TEAM, email="bob@example.com")
    for _ in range(4):
        client.post("/login/", {"email": "bob@example.com", "password": "wrong guess"})
    assert client.post("/login/", {"email": "bob@example.com", "password": PASSWORD}).status_code == 302
    client.post("/logout/")
    client.post("/login/", {"email": "bob@example.com", "password": "wrong guess"})
    assert client.post("/login/", {"email": "bob@example.com", "password": PASSWORD}).status_code == 302


def test_one_address_guessing_many_accounts_is_blocked(make_user, no_mfa_policy):
    make_user(Role.SECURITY_TEAM, email="bob@example.com")
    guesser = Client(REMOTE_ADDR="203.0.113.7")
    # All but the last failure written directly: each real attempt costs an argon2 hash.
    LoginAttempt.objects.bulk_create(
        LoginAttempt(email=f"user{n}@example.com", ip="203.0.113.7", succeeded=False)
        for n in range(throttle.MAX_FAILURES_PER_IP - 1)
    )
    response = guesser.post("/login/", {"email": "last@example.com", "password": "wrong guess"})
    assert "try again in" in response.content.decode()
    response = guesser.post("/login/", {"email": "bob@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert "try again in" in response.content.decode()


def test_deactivated_user_cannot_sign_in(client, make_user, no_mfa_policy):
    make_user(Role.SECURITY_TEAM, email="bob@example.com", is_active=False)
    response = client.post("/login/", {"email": "bob@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert "do not match an active account" in response.content.decode()


@pytest.mark.django_db
def test_old_sign_in_attempts_are_pruned_by_the_periodic_job():
    from datetime import timedelta

    from django.utils import timezone

    from bastion.accounts.models import LoginAttempt
    from bastion.accounts.tasks import prune_login_attempts
    from bastion.jobs.periodic import discover_jobs

    LoginAttempt.objects.create(email="old@example.com", at=timezone.now() - timedelta(hours=2))
    LoginAttempt.objects.create(email="new@example.com")
    assert any("prune_login_attempts" in name for name in discover_jobs())
    assert prune_login_attempts.call() == 1
    assert list(LoginAttempt.objects.values_list("email", flat=True)) == ["new@example.com"]


@pytest.mark.django_db
def test_expired_spent_links_are_pruned_daily():
    from datetime import timedelta

    from django.utils import timezone

    from bastion.accounts.models import UsedLinkToken
    from bastion.accounts.tasks import prune_used_link_tokens

    now = timezone.now()
    UsedLinkToken.objects.create(nonce="old", purpose="training", expires_at=now - timedelta(days=1))
    UsedLinkToken.objects.create(nonce="live", purpose="training", expires_at=now + timedelta(days=1))
    assert prune_used_link_tokens.call() == 1
    assert list(UsedLinkToken.objects.values_list("nonce", flat=True)) == ["live"]
