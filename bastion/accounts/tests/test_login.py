import pytest

from bastion.accounts.models import Role
from bastion.audit.models import AuditEntry
from conftest import PASSWORD


@pytest.mark.django_db
def test_sign_in_with_password_reaches_home(client, make_user, no_mfa_policy):
    make_user(Role.SECURITY_TEAM, email="bob@example.com")
    response = client.post("/login/", {"email": "bob@example.com", "password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert b"Welcome" in response.content
    assert AuditEntry.objects.filter(action="login.succeeded", actor_label="bob@example.com").exists()


@pytest.mark.django_db
def test_wrong_password_is_refused_and_audited(client, make_user, no_mfa_policy):
    make_user(Role.SECURITY_TEAM, email="bob@example.com")
    response = client.post("/login/", {"email": "bob@example.com", "password": "nope"})
    assert response.status_code == 400
    assert "do not match" in response.content.decode()
    assert AuditEntry.objects.filter(action="login.failed", actor_label="bob@example.com").exists()
