"""Account changes that write several records and the audit trail together."""

from django.db import transaction
from django.utils import timezone

from bastion.audit.chain import diff, record

from .models import ApiToken, MfaPolicy, User, hash_token


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
                   person=None, request=None) -> User:
    """Create a user account with a role; audited."""
    user = User.objects.create_user(
        email=email, password=password, full_name=full_name, role=role, person=person
    )
    record("user.created", actor=acting_user, obj=user, after=_user_state(user), request=request)
    return user


@transaction.atomic
def do_update_user(*, acting_user, user: User, request=None, **changes) -> User:
    """Change a user's name, role, person link or active flag; role changes are audited as such."""
    before = _user_state(user)
    for field, value in changes.items():
        setattr(user, field, value)
    user.save()
    b, a = diff(before, _user_state(user))
    if b or a:
        action = "user.role_changed" if "role" in a else "user.updated"
        record(action, actor=acting_user, obj=user, before=b, after=a, request=request)
    return user


@transaction.atomic
def do_set_password(*, acting_user, user: User, password: str, request=None) -> None:
    """Set a new password; the audit entry says that it changed, never what it is."""
    user.set_password(password)
    user.save(update_fields=["password"])
    record("user.password_set", actor=acting_user, obj=user, request=request)


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
def do_create_token(*, user: User, name: str, request=None) -> tuple[ApiToken, str]:
    """Create a personal API token. Returns the token record and the raw token, shown once."""
    raw = ApiToken.generate()
    token = ApiToken.objects.create(
        user=user, name=name, token_hash=hash_token(raw), hint=raw[:8]
    )
    record("token.created", actor=user, obj=token, after={"name": name, "hint": token.hint},
           request=request)
    return token, raw


@transaction.atomic
def do_revoke_token(*, acting_user, token: ApiToken, request=None) -> None:
    """Revoke a token; it stops working at once."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record("token.revoked", actor=acting_user, obj=token, request=request)
