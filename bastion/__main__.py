"""The `bastion` command: Django's management commands plus Bastion's own."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bastion.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv)
    argv[0] = "bastion"
    # `bastion import-people` reads better than `bastion import_people`.
    if len(argv) > 1:
        argv[1] = argv[1].replace("-", "_") if not argv[1].startswith("-") else argv[1]
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
