"""`bastion token create|revoke|list`: personal API tokens from the command line."""

from django.core.management.base import BaseCommand, CommandError

from bastion.accounts.actions import do_create_token, do_revoke_token
from bastion.accounts.models import User


class Command(BaseCommand):
    help = (
        "Personal API tokens. `token create --email E --name N` prints the new token alone on "
        "stdout (shown once; only its hash is kept). Also `token revoke --email E --name N` and "
        "`token list --email E`."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{create,revoke,list}")
        create = sub.add_parser("create", help="Create a token and print it once.")
        create.add_argument("--email", required=True)
        create.add_argument("--name", required=True, help="What the token is for.")
        revoke = sub.add_parser("revoke", help="Revoke the user's active tokens with this name.")
        revoke.add_argument("--email", required=True)
        revoke.add_argument("--name", required=True)
        listing = sub.add_parser("list", help="List the user's tokens (never their values).")
        listing.add_argument("--email", required=True)

    def _user(self, email: str) -> User:
        user = User.objects.filter(email=email.strip().lower()).first()
        if user is None:
            raise CommandError(f"No user with email {email.strip()!r}.")
        return user

    def handle(self, *args, **options):
        user = self._user(options["email"])
        getattr(self, f"_{options['subcommand']}")(user, options)

    def _create(self, user: User, options) -> None:
        name = options["name"].strip()
        if not name or len(name) > 100:
            raise CommandError("Give the token a name of 1 to 100 characters.")
        if not user.is_active:
            raise CommandError(f"{user.email} is deactivated; a token of theirs would not work.")
        _, raw = do_create_token(user=user, name=name, actor_label="cli")
        # Only the token on stdout, so `TOKEN=$(bastion token create ...)` captures it.
        self.stdout.write(raw)
        self.stderr.write(f"Token {name!r} created for {user.email}. It is shown only this once.",
                          style_func=str)

    def _revoke(self, user: User, options) -> None:
        tokens = list(user.api_tokens.filter(name=options["name"].strip(), revoked_at__isnull=True))
        if not tokens:
            raise CommandError(f"{user.email} has no active token named {options['name'].strip()!r}.")
        for token in tokens:
            do_revoke_token(acting_user=None, actor_label="cli", token=token)
        self.stdout.write(f"Revoked {len(tokens)} token{'s' if len(tokens) != 1 else ''} "
                          f"named {options['name'].strip()!r} of {user.email}.")

    def _list(self, user: User, options) -> None:
        tokens = list(user.api_tokens.all())
        if not tokens:
            self.stdout.write(f"{user.email} has no API tokens.")
            return
        for t in tokens:
            status = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
            used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
            self.stdout.write(f"{t.name}\t{t.hint}…\tcreated {t.created_at:%Y-%m-%d}\tlast used {used}\t{status}")
