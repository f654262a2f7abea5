from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from bastion.systems import importer
from bastion.systems.actions import do_apply_systems_import
from bastion.systems.importer import ImportFileError


class Command(BaseCommand):
    help = (
        "Import business systems from a CSV file (UTF-8), matched on name. Nothing is written if "
        f"the file has any error. Columns: {', '.join(importer.COLUMNS)}. "
        "Example: bastion import-systems systems.csv --dry-run"
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file; its first row names the columns")
        parser.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")

    def handle(self, *args, **options):
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}.") from None
        try:
            text = importer.decode_csv(data)
            if options["dry_run"]:
                plan = importer.plan_import(text)
            else:
                plan = do_apply_systems_import(text=text, filename=path.name, actor_label="cli")
        except ImportFileError as exc:
            raise CommandError(f"{exc} Nothing was written.") from None
        if plan.errors:
            for error in sorted(plan.errors):
                self.stderr.write(str(error))
            count = len(plan.errors)
            raise CommandError(f"{count} error{'s' if count != 1 else ''} in {path.name}. Nothing was written.")
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was written.")
            for values in plan.new:
                self.stdout.write(f"  new {values['name']}")
            for system, _, diffs in plan.changed:
                changes = "; ".join(f"{f}: {b if b not in (None, '') else '(empty)'} → {a if a not in (None, '') else '(empty)'}"
                                    for f, (b, a) in diffs.items())
                self.stdout.write(f"  changed {system.name}: {changes}")
        counts = plan.counts()
        verb = "would be" if options["dry_run"] else "were"
        self.stdout.write(f"{counts['created']} created, {counts['changed']} changed, {counts['unchanged']} "
                          f"unchanged ({verb} written).")
