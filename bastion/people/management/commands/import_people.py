from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from bastion.people import importer
from bastion.people.importer import CANONICAL_COLUMNS, ImportFileError


def _show(value) -> str:
    return "(empty)" if value in (None, "") else str(value)


class Command(BaseCommand):
    help = (
        "Import people from an HR CSV file (UTF-8). Nothing is written if the file has any error. "
        "By default the file is the full list of current employees: active people missing from "
        "it are marked as leavers. Example: "
        'bastion import-people staff.csv --dry-run --map employee_id="Staff No" --map email=Mail'
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file; its first row names the columns")
        parser.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
        parser.add_argument(
            "--partial", action="store_true",
            help="the file lists only some people: do not mark anyone missing from it as a leaver",
        )
        parser.add_argument(
            "--map", action="extend", nargs="+", default=[], metavar="COLUMN=HEADER",
            help=f"which header of the file holds a column ({', '.join(CANONICAL_COLUMNS)})",
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}.") from None
        full = not options["partial"]
        try:
            text = importer.decode_csv(data)
            header = importer.read_header(text)
            overrides = self._mapping_overrides(options["map"])
            taken = set(overrides.values())
            mapping = {c: h for c, h in importer.guess_mapping(header).items() if h not in taken}
            mapping.update(overrides)
            problems = importer.check_mapping(header, mapping)
            if problems:
                raise ImportFileError(" ".join(problems).replace(
                    "Map it to one of the file's columns.", "Name the file's column with --map COLUMN=HEADER."
                ))
            ignored = [h for h in header if h and h not in mapping.values()]
            if ignored:
                self.stderr.write(f"Columns not imported: {', '.join(ignored)}")
            if options["dry_run"]:
                plan = importer.preview(text, mapping, full=full)
            else:
                plan, _ = importer.do_apply_import(
                    text=text, mapping=mapping, full=full, filename=path.name, actor_label="cli",
                )
        except ImportFileError as exc:
            raise CommandError(f"{exc} Nothing was written.") from None

        if plan.errors:
            for error in plan.errors:
                self.stderr.write(str(error))
            count = len(plan.errors)
            raise CommandError(f"{count} error{'s' if count != 1 else ''} in {path.name}. Nothing was written.")
        counts = plan.counts()
        verb = "would be" if options["dry_run"] else "were"
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was written.")
            self._list(f"new {p['employee_id']} ({p['first_name']} {p['last_name']})" for p in plan.new)
            self._list(
                f"changed {eid} ({name}): "
                + "; ".join(f"{f}: {_show(b)} → {_show(a)}" for f, (b, a) in diffs.items())
                for _, eid, name, diffs in plan.changed
            )
            self._list(f"leaver {eid} ({name})" for _, eid, name in plan.leavers)
        self.stdout.write(
            f"{counts['rows']} rows read from {path.name} ({'full list' if full else 'partial'}); "
            f"people that {verb}:\n"
            f"  created:   {counts['created']}\n"
            f"  changed:   {counts['changed']}\n"
            f"  leavers:   {counts['leavers']}\n"
            f"  unchanged: {counts['unchanged']}"
        )

    def _list(self, lines) -> None:
        lines = list(lines)
        for line in lines[: importer.DISPLAY_CAP]:
            self.stdout.write(f"  {line}")
        if len(lines) > importer.DISPLAY_CAP:
            self.stdout.write(f"  … and {len(lines) - importer.DISPLAY_CAP} more")

    @staticmethod
    def _mapping_overrides(items: list[str]) -> dict[str, str]:
        overrides = {}
        for item in items:
            column, sep, header = item.partition("=")
            column, header = column.strip(), header.strip()
            if not sep or not column or not header:
                raise CommandError(f'--map wants COLUMN=HEADER (e.g. employee_id="Staff No"), not “{item}”.')
            if column not in CANONICAL_COLUMNS:
                raise CommandError(f"--map {column}: not a Bastion column. The columns are {', '.join(CANONICAL_COLUMNS)}.")
            overrides[column] = header
        return overrides
