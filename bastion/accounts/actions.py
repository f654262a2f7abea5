"""Account changes that write several records and the audit trail together."""

from django.db import transaction
from django.utils import timezone

from bastion.audit.chain import diff, record

from .models import ApiToken, MfaPolicy, Role, User, hash_token


def _user_state(user: User) -> dict:
    return {
        "email": user.email,
        "full_name": user.full_name,
        "role": user.role,
        "is_active": user.is_active,
        "person": user.person_id,
        "mfa_enabled": user.mfa_enabled,
    }


@transaction.atomic
def do_create_user(*, acting_user, email: str, full_name: str, role: str, password: str | None,
                   person=None, request=None, actor_label: str | None = None) -> User:
    """Create a user account with a role; audited."""
    user = User.objects.create_user(
        email=email, password=password, full_name=full_name, role=role, person=person
    )
    record("user.created", actor=acting_user, actor_label=actor_label, obj=user,
           after=_user_state(user), request=request)
    return user


@transaction.atomic
def do_update_user(*, acting_user, user: User, request=None, actor_label: str | None = None,
                   **changes) -> User:
    """Change a user's name, role, person link or active flag.

    The audit entry is named for the change that matters most: user.role_changed, then
    user.deactivated / user.reactivated, else user.updated; it holds the changed values only.
    """
    before = _user_state(user)
    for field, value in changes.items():
        setattr(user, field, value)
    user.save()
    b, a = diff(before, _user_state(user))
    if b or a:
        if "role" in a:
            action = "user.role_changed"
        elif "is_active" in a:
            action = "user.reactivated" if a["is_active"] else "user.deactivated"
        else:
            action = "user.updated"
        record(action, actor=acting_user, actor_label=actor_label, obj=user, before=b, after=a,
               request=request)
    return user


@transaction.atomic
def do_set_password(*, acting_user, user: User, password: str, request=None,
                    actor_label: str | None = None) -> None:
    """Set a new password; the audit entry says that it changed, never what it is."""
    user.set_password(password)
    user.save(update_fields=["password"])
    record("user.password_set", actor=acting_user, actor_label=actor_label, obj=user,
           request=request)


@transaction.atomic
def do_ensure_security_lead(*, email: str, password: str, actor_label: str = "cli") -> tuple[User, bool]:
    """Create a security lead, or make an existing account an active security lead with this
    password. Returns (user, created). For the `bastion createadmin` command."""
    user = User.objects.filter(email=email.lower()).first()
    if user is None:
        user = do_create_user(acting_user=None, actor_label=actor_label, email=email, full_name="",
                              role=Role.SECURITY_LEAD, password=password)
        return user, True
    do_update_user(acting_user=None, actor_label=actor_label, user=user,
                   role=Role.SECURITY_LEAD, is_active=True)
    do_set_password(acting_user=None, actor_label=actor_label, user=user, password=password)
    return user, False


@transaction.atomic
def do_enable_mfa(*, user: User, secret: str, step: int, request=None) -> None:
    """Turn on TOTP for `user` with a secret they have just proved they hold."""
    user.mfa_secret = secret
    user.mfa_enabled_at = timezone.now()
    user.mfa_last_step = step
    user.save(update_fields=["mfa_secret", "mfa_enabled_at", "mfa_last_step"])
    record("mfa.enabled", actor=user, obj=user, request=request)


@transaction.atomic
def do_reset_mfa(*, acting_user, user: User, request=None) -> None:
    """Remove a user's second factor (lost phone); they must enrol again if their role requires it."""
    user.mfa_secret = ""
    user.mfa_enabled_at = None
    user.mfa_last_step = 0
    user.save(update_fields=["mfa_secret", "mfa_enabled_at", "mfa_last_step"])
    record("mfa.reset", actor=acting_user, obj=user, request=request)


@transaction.atomic
def do_set_mfa_policy(*, acting_user, required_roles: list[str], request=None) -> MfaPolicy:
    """Choose which roles must use a second factor."""
    policy = MfaPolicy.current()
    before = {"required_roles": policy.required_roles}
    policy.required_roles = sorted(required_roles)
    policy.save()
    record("mfa.policy_changed", actor=acting_user, obj=policy, object_repr="MFA policy",
           before=before, after={"required_roles": policy.required_roles}, request=request)
    return policy


@transaction.atomic
def do_create_token(*, user: User, name: str, request=None,
                    actor_label: str | None = None) -> tuple[ApiToken, str]:
    """Create a personal API token. Returns the token record and the raw token, shown once.

    Only the token's SHA-256 is stored; the audit entry names the token, never its value.
    """
    raw = ApiToken.generate()
    token = ApiToken.objects.create(
        user=user, name=name, token_hash=hash_token(raw), hint=raw[:8]
    )
    record("token.created", actor=None if actor_label else user, actor_label=actor_label,
           obj=token, after={"user": user.email, "name": name, "hint": token.hint},
           request=request)
    return token, raw


@transaction.atomic
def do_revoke_token(*, acting_user, token: ApiToken, request=None,
                    actor_label: str | None = None) -> None:
    """Revoke a token; it stops working at once. Revoking a revoked token does nothing."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record("token.revoked", actor=acting_user, actor_label=actor_label, obj=token,
               after={"user": token.user.email, "name": token.name, "hint": token.hint},
               request=request)
