"""Small helpers the accounts tests share: reading the page, making TOTP codes."""

import re
import time

import pyotp
from django.contrib.auth.hashers import Argon2PasswordHasher


def secret_on_page(html: str) -> str:
    """The TOTP key shown under the QR code on an enrolment page."""
    match = re.search(r'<code class="secret" id="mfa-secret">([A-Z2-7]+)</code>', html)
    assert match, "no TOTP key on the page"
    return match.group(1)


def code(secret: str, steps_ahead: int = 0) -> str:
    """The code an authenticator app would show now (or `steps_ahead` 30-second steps later,
    which the server accepts as clock drift: it lets a test sign in twice within one step)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def wrong_code(secret: str) -> str:
    """A six-digit code valid for none of the steps the server accepts."""
    valid = {code(secret, n) for n in (-1, 0, 1, 2)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444", "555555") if c not in valid)


def new_token_on_page(html: str) -> str | None:
    match = re.search(r'<code class="secret" id="new-token">([^<]+)</code>', html)
    return match.group(1) if match else None


class QuickArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2 as in production, with cheap parameters: a production hash takes ~0.5 s on a
    small machine, and these tests create and sign in hundreds of people."""

    time_cost = 1
    memory_cost = 64
    parallelism = 1
