"""`bastion createadmin --email E`: a security lead whose password is read from stdin."""

import getpass
import sys

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from bastion.accounts.actions import do_ensure_security_lead
from bastion.accounts.models import User


class Command(BaseCommand):
    help = (
        "Create a security lead, or make an existing account an active security lead. "
        "The password is read from stdin (one line), e.g. `printf '%s\\n' \"$PW\" | bastion createadmin --email E`."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True, help="The security lead's email address.")

    def _read_password(self, stdin) -> str:
        if stdin.isatty():
            first = getpass.getpass("Password: ")
            if first != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match. Nothing was changed.")
            return first
        # One line; only the line ending is removed, so spaces are part of the password.
        return stdin.readline().rstrip("\r\n")

    def handle(self, *args, **options):
        email = options["email"].strip().lower()
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"Not a valid email address: {email!r}.") from None
        password = self._read_password(options.get("stdin") or sys.stdin)
        if not password:
            raise CommandError("No password given on stdin. Nothing was changed.")
        existing = User.objects.filter(email=email).first()
        try:
            validate_password(password, existing or User(email=email))
        except ValidationError as exc:
            raise CommandError("Password refused: " + " ".join(exc.messages) + " Nothing was changed.") from None
        user, created = do_ensure_security_lead(email=email, password=password, actor_label="cli")
        if created:
            self.stdout.write(f"Created security lead {user.email}.")
        else:
            self.stdout.write(
                f"{user.email} already existed: password set, role is now security lead, account active."
            )
