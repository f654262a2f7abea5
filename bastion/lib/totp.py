"""TOTP (RFC 6238) second factor: secrets, provisioning QR codes and replay-safe checks."""

import time

import pyotp
import segno

ISSUER = "Bastion"


def new_secret() -> str:
    """A fresh random base32 secret (160 bits), as authenticator apps expect."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """An inline SVG QR code (no script, no external request) for authenticator apps."""
    return segno.make(uri, error="m").svg_inline(
        scale=4, dark="#111", light="#fff", title="QR code to add Bastion to your authenticator app"
    )


def matching_step(secret: str, code: str, last_step: int = 0, now: float | None = None) -> int | None:
    """The time step `code` is valid for (allowing one step of clock drift), or None.

    A step at or before `last_step` is refused so a code cannot be used twice.
    """
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    current = int(now // totp.interval)
    for step in (current - 1, current, current + 1):
        if step > last_step and totp.generate_otp(step) == code:
            return step
    return None
