"""`bastion createadmin` and `bastion token`, in process and as a real command line."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from bastion.accounts.models import ApiToken, Role, User
from bastion.audit.models import AuditEntry

pytestmark = pytest.mark.django_db

GOOD = "a long and uncommon passphrase"


def createadmin(email: str, stdin: str) -> str:
    out = io.StringIO()
    call_command("createadmin", "--email", email, stdin=io.StringIO(stdin), stdout=out)
    return out.getvalue()


def token(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_createadmin_creates_a_security_lead(no_mfa_policy):
    output = createadmin("Root@Example.com", GOOD + "\n")
    assert "Created security lead root@example.com." in output
    user = User.objects.get(email="root@example.com")
    assert user.role == Role.SECURITY_LEAD and user.is_active and user.check_password(GOOD)
    assert user.password.startswith("argon2")
    entry = AuditEntry.objects.get(action="user.created")
    assert entry.actor_label == "cli" and entry.actor_id is None and entry.after["role"] == "security_lead"
    response = Client().post("/login/", {"email": "root@example.com", "password": GOOD})
    assert response.status_code == 302


def test_createadmin_on_an_existing_account_says_so(make_user):
    user = make_user(Role.EMPLOYEE, email="root@example.com", is_active=False)
    output = createadmin("root@example.com", GOOD + "\n")
    assert "root@example.com already existed: password set, role is now security lead" in output
    user.refresh_from_db()
    assert user.role == Role.SECURITY_LEAD and user.is_active and user.check_password(GOOD)
    changed = AuditEntry.objects.get(action="user.role_changed")
    assert changed.actor_label == "cli"
    assert changed.before == {"role": "employee", "is_active": False}
    assert changed.after == {"role": "security_lead", "is_active": True}
    assert AuditEntry.objects.get(action="user.password_set").actor_label == "cli"


@pytest.mark.parametrize("stdin, message", [
    ("", "No password given on stdin"),
    ("\n", "No password given on stdin"),
    ("short\n", "This password is too short"),
    ("password1234\n", "This password is too common"),
    ("root@example.com\n", "too similar to the email"),
])
def test_createadmin_refuses_empty_and_weak_passwords(make_user, stdin, message):
    with pytest.raises(CommandError, match=message):
        createadmin("root@example.com", stdin)
    assert not User.objects.filter(email="root@example.com").exists()
    assert not AuditEntry.objects.exists()


def test_createadmin_weak_password_leaves_an_existing_account_alone(make_user):
    user = make_user(Role.EMPLOYEE, email="root@example.com")
    with pytest.raises(CommandError, match="Nothing was changed"):
        createadmin("root@example.com", "short\n")
    user.refresh_from_db()
    assert user.role == Role.EMPLOYEE


def test_createadmin_refuses_a_bad_email(db):
    with pytest.raises(CommandError, match="Not a valid email address"):
        createadmin("not-an-email", GOOD + "\n")


def test_createadmin_keeps_spaces_and_reads_one_line(db):
    createadmin("root@example.com", "  " + GOOD + "  \nsecond line\n")
    assert User.objects.get(email="root@example.com").check_password("  " + GOOD + "  ")


def test_token_create_prints_only_the_token_and_it_works(make_user):
    user = make_user(Role.AUDITOR, email="aud@example.com")
    out, err = token("create", "--email", "AUD@example.com", "--name", "export script")
    raw = out.strip()
    assert out == raw + "\n" and raw.startswith("bst_")
    assert "shown only this once" in err
    response = Client(headers={"Authorization": f"Bearer {raw}"}).get("/api/v1/me")
    assert response.status_code == 200 and response.json()["email"] == "aud@example.com"
    entry = AuditEntry.objects.get(action="token.created")
    assert entry.actor_label == "cli" and raw not in str(entry.after)
    assert ApiToken.objects.get(user=user).name == "export script"


def test_token_list_and_revoke(make_user):
    make_user(Role.AUDITOR, email="aud@example.com")
    raw = token("create", "--email", "aud@example.com", "--name", "export script")[0].strip()
    listing = token("list", "--email", "aud@example.com")[0]
    assert "export script" in listing and raw[:8] in listing and "active" in listing and raw not in listing
    assert "Revoked 1 token named 'export script'" in token("revoke", "--email", "aud@example.com",
                                                              "--name", "export script")[0]
    assert Client(headers={"Authorization": f"Bearer {raw}"}).get("/api/v1/me").status_code == 401
    assert AuditEntry.objects.get(action="token.revoked").actor_label == "cli"
    with pytest.raises(CommandError, match="has no active token named 'export script'"):
        token("revoke", "--email", "aud@example.com", "--name", "export script")


def test_token_refuses_unknown_and_deactivated_people(make_user):
    with pytest.raises(CommandError, match="No user with email 'ghost@example.com'"):
        token("create", "--email", "ghost@example.com", "--name", "x")
    make_user(Role.AUDITOR, email="gone@example.com", is_active=False)
    with pytest.raises(CommandError, match="deactivated"):
        token("create", "--email", "gone@example.com", "--name", "x")
    assert not ApiToken.objects.exists()


def test_the_real_command_line(tmp_path: Path):
    """As an operator runs it: a fresh SQLite install, the password on a pipe, exit codes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "DJANGO_"))}
    env.update(BASTION_VAR_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'cli.sqlite3'}",
               BASTION_SECRET_KEY="cli-test-secret-key-" + "x" * 40)

    def bastion(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bastion", *args], input=stdin, env=env,
                              capture_output=True, text=True, timeout=120)

    assert bastion("migrate", "-v0").returncode == 0
    done = bastion("createadmin", "--email", "root@example.com", stdin=GOOD + "\n")
    assert done.returncode == 0, done.stderr
    assert "Created security lead root@example.com." in done.stdout
    weak = bastion("createadmin", "--email", "root@example.com", stdin="short\n")
    assert weak.returncode != 0 and "too short" in weak.stderr
    made = bastion("token", "create", "--email", "root@example.com", "--name", "ci")
    assert made.returncode == 0, made.stderr
    assert made.stdout.count("\n") == 1 and made.stdout.startswith("bst_")
    verified = bastion("audit", "verify")
    assert verified.returncode == 0 and "Audit trail intact: 2 entries verified." in verified.stdout
