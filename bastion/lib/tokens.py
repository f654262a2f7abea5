"""The one way to sign a link: signed, expiring, single-purpose tokens for emailed links.

A token is ``django.core.signing.dumps`` of a small payload (purpose, subject id, issue and
expiry times, a 128-bit random nonce, the single-use flag), signed with ``SECRET_KEY`` and a
salt per purpose, so a token made for one purpose never verifies for another. It is made of
URL-safe base64 and ``:`` (allowed unescaped in URL paths and query strings).

A single-use token is spent by :func:`consume_link_token`, which records its nonce in
``accounts.UsedLinkToken`` under a unique constraint: of two concurrent uses, exactly one
succeeds.
"""

import secrets
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

_SALT_PREFIX = "bastion.lib.tokens:"


class LinkTokenError(Exception):
    """A link that cannot be honoured. ``str(error)`` is a message fit to show the visitor."""

    message = "This link is not valid. Check that you copied all of it, or ask for a new one."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)


class InvalidLinkToken(LinkTokenError):
    """Garbled, truncated or tampered with: the signature does not match."""


class WrongPurposeLinkToken(LinkTokenError):
    """A genuine link, but made for something else (e.g. a review link used for training)."""

    message = "This link is not meant for this page. Use the link from the email you received."


class ExpiredLinkToken(LinkTokenError):
    """A genuine link past its expiry time; ``expired_at`` says when (UTC)."""

    def __init__(self, expired_at: datetime) -> None:
        self.expired_at = expired_at
        super().__init__(
            f"This link expired on {expired_at.day} {expired_at:%B %Y at %H:%M} UTC. Ask for a new one."
        )


class UsedLinkTokenError(LinkTokenError):
    """A single-use link that has already been used."""

    message = "This link has already been used. Ask for a new one if you still need it."


@dataclass(frozen=True)
class LinkClaim:
    """What a verified token says: who it is for, for what, and when it was made and expires."""

    purpose: str
    subject_id: int | str
    issued_at: datetime
    expires_at: datetime
    nonce: str
    single_use: bool


def _salt(purpose: str) -> str:
    return _SALT_PREFIX + purpose


def _check_purpose(purpose: str) -> None:
    if not purpose or not isinstance(purpose, str):
        raise ValueError("A link token needs a non-empty purpose, e.g. 'awareness.training'")


def make_link_token(
    purpose: str,
    subject_id: int | str,
    *,
    expires_in: timedelta,
    single_use: bool = False,
    now: datetime | None = None,
) -> str:
    """Sign a link token for ``subject_id`` that is good for ``purpose`` only, until ``expires_in``.

    ``purpose`` names what the link grants (``"awareness.training"``, ``"systems.review"``);
    the reader must name the same purpose. ``single_use`` links are refused after
    :func:`consume_link_token` has accepted them once. ``now`` is for tests that control the
    clock; it defaults to the current time.
    """
    _check_purpose(purpose)
    if not isinstance(subject_id, int | str) or isinstance(subject_id, bool):
        raise TypeError("subject_id must be an int or a str")
    if expires_in <= timedelta(0):
        raise ValueError("expires_in must be positive")
    issued = int((now or timezone.now()).timestamp())
    payload = {
        "p": purpose,
        "s": subject_id,
        "i": issued,
        "x": issued + int(expires_in.total_seconds()),
        # 128 random bits: the token cannot be guessed, and a single-use token is spent by it.
        "n": secrets.token_urlsafe(16),
        "u": 1 if single_use else 0,
    }
    return signing.dumps(payload, salt=_salt(purpose), compress=True)


def _unverified_payload(token: str) -> dict[str, Any] | None:
    """The payload without checking the signature; used only to name a wrong purpose."""
    try:
        value = token.rsplit(":", 2)[0]
        data = signing.b64_decode(value.lstrip(".").encode())
        if value.startswith("."):
            data = zlib.decompress(data)
        payload = signing.JSONSerializer().loads(data)
    except Exception:
        return None
    return payload if isinstance(payload, dict) else None


def _verified_payload(token: str, purpose: str) -> dict[str, Any]:
    try:
        payload = signing.loads(token, salt=_salt(purpose))
    except signing.BadSignature:
        claimed = _unverified_payload(token)
        other = claimed.get("p") if claimed else None
        if isinstance(other, str) and other and other != purpose:
            # Only say "wrong purpose" if the token really is genuine for that other purpose.
            try:
                signing.loads(token, salt=_salt(other))
            except signing.BadSignature:
                pass
            else:
                raise WrongPurposeLinkToken() from None
        raise InvalidLinkToken() from None
    except Exception:  # garbage that does not even decode
        raise InvalidLinkToken() from None
    if not isinstance(payload, dict) or payload.get("p") != purpose:
        raise InvalidLinkToken()
    return payload


def _claim(payload: dict[str, Any]) -> LinkClaim:
    try:
        return LinkClaim(
            purpose=payload["p"],
            subject_id=payload["s"],
            issued_at=datetime.fromtimestamp(payload["i"], tz=UTC),
            expires_at=datetime.fromtimestamp(payload["x"], tz=UTC),
            nonce=payload["n"],
            single_use=bool(payload["u"]),
        )
    except (KeyError, TypeError, ValueError, OverflowError):
        raise InvalidLinkToken() from None


def read_link_token(token: str, purpose: str, *, now: datetime | None = None) -> LinkClaim:
    """Verify ``token`` for ``purpose`` and return its claim, without spending it.

    Raises a :class:`LinkTokenError` subclass whose message can be shown as is:
    :class:`InvalidLinkToken` (garbled or tampered), :class:`WrongPurposeLinkToken`,
    :class:`ExpiredLinkToken` (with ``expired_at``) or, for a single-use link that has been
    consumed, :class:`UsedLinkTokenError`. Use it to show a page; use
    :func:`consume_link_token` when the visitor acts on it.
    """
    _check_purpose(purpose)
    claim = _claim(_verified_payload(token, purpose))
    if (now or timezone.now()) >= claim.expires_at:
        raise ExpiredLinkToken(claim.expires_at)
    if claim.single_use:
        from bastion.accounts.models import UsedLinkToken

        if UsedLinkToken.objects.filter(nonce=claim.nonce).exists():
            raise UsedLinkTokenError()
    return claim


def consume_link_token(token: str, purpose: str, *, now: datetime | None = None) -> LinkClaim:
    """Verify ``token`` like :func:`read_link_token` and, if it is single-use, spend it.

    The nonce is inserted into ``UsedLinkToken`` (unique), so however many requests race
    with the same link, one succeeds and the others get :class:`UsedLinkTokenError`. Call it
    inside the transaction that does what the link grants, so a failure there un-spends it.
    A multi-use link is verified and returned; nothing is recorded.
    """
    claim = read_link_token(token, purpose, now=now)
    if claim.single_use:
        from bastion.accounts.models import UsedLinkToken

        try:
            with transaction.atomic():
                UsedLinkToken.objects.create(
                    nonce=claim.nonce,
                    purpose=claim.purpose,
                    used_at=now or timezone.now(),
                    expires_at=claim.expires_at,
                )
        except IntegrityError:
            raise UsedLinkTokenError() from None
    return claim
