from django.core.management.base import BaseCommand, CommandError

from bastion.audit.chain import verify


class Command(BaseCommand):
    help = "Audit trail tools. `bastion audit verify` checks the whole hash chain."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["verify"])

    def handle(self, *args, **options):
        result = verify()
        if not result.ok:
            raise CommandError(f"Audit trail BROKEN: {result.problem}. {result.checked} entries verified before it.")
        self.stdout.write(f"Audit trail intact: {result.checked} entries verified.")
