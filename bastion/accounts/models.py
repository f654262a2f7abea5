import hashlib
import secrets
from datetime import timedelta
from typing import ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    SECURITY_LEAD = "security_lead", "Security lead"
    SECURITY_TEAM = "security_team", "Security team"
    EXECUTIVE = "executive", "Executive / approver"
    BUSINESS_LEADER = "business_leader", "Business leader"
    MANAGER = "manager", "Manager"
    EMPLOYEE = "employee", "Employee"
    AUDITOR = "auditor", "Auditor"


PRIVILEGED_ROLES = {Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.AUDITOR}


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        return user


class User(AbstractBaseUser):
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=32, choices=Role.choices, default=Role.EMPLOYEE)
    person = models.OneToOneField(
        "people.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="user"
    )
    is_active = models.BooleanField(default=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    date_joined = models.DateTimeField(default=timezone.now)
    mfa_secret = models.CharField(max_length=64, blank=True)
    mfa_enabled_at = models.DateTimeField(null=True, blank=True)
    # The last TOTP time step accepted, so a code cannot be replayed.
    mfa_last_step = models.BigIntegerField(default=0)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def label(self) -> str:
        return f"{self.full_name} <{self.email}>" if self.full_name else self.email

    @property
    def mfa_enabled(self) -> bool:
        return self.mfa_enabled_at is not None

    def has_role(self, *roles: str) -> bool:
        return self.is_active and self.role in roles


class MfaPolicy(models.Model):
    """Which roles must use a second factor. A single row, edited by the security lead."""

    required_roles = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    @classmethod
    def current(cls) -> "MfaPolicy":
        policy = cls.objects.order_by("pk").first()
        if policy is None:
            policy = cls.objects.create(required_roles=sorted(PRIVILEGED_ROLES))
        return policy

    def requires(self, user: User) -> bool:
        return user.role in self.required_roles


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> "ApiTokenQuerySet":
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 is stored; the token is shown once."""

    PREFIX = "bst_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    # The first characters, kept so a person can tell their tokens apart.
    hint = models.CharField(max_length=16)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def generate(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class LoginAttemptQuerySet(models.QuerySet["LoginAttempt"]):
    def recent_failures(self, window: timedelta) -> "LoginAttemptQuerySet":
        return self.filter(succeeded=False, at__gte=timezone.now() - window)


class LoginAttempt(models.Model):
    """Every password or second-factor attempt, used to throttle guessing."""

    email = models.CharField(max_length=254, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    succeeded = models.BooleanField(default=False)

    objects = LoginAttemptQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["ip", "at"])]


class UsedLinkToken(models.Model):
    """A spent single-use link (see lib/tokens.py): its nonce, unique, so it is spent only once.

    Rows past ``expires_at`` can be deleted: an expired link is refused before this table is read.
    """

    nonce = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=100)
    used_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-used_at"]

    def __str__(self) -> str:
        return f"{self.purpose} link used {self.used_at:%Y-%m-%d %H:%M}"
