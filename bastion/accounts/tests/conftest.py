import pytest


@pytest.fixture(autouse=True)
def quick_argon2(settings):
    """Argon2 still (hashes start with argon2$), but cheap; see helpers.QuickArgon2PasswordHasher."""
    settings.PASSWORD_HASHERS = ["bastion.accounts.tests.helpers.QuickArgon2PasswordHasher"]
