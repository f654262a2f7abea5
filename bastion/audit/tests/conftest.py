from bastion.accounts.tests.conftest import quick_argon2  # noqa: F401 - an autouse fixture
