"""People at 100,000: HR import fresh and unchanged, list page and API latency (server time)."""

import csv
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bastion.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from latency import latency  # noqa: E402

from bastion.accounts.actions import do_create_token  # noqa: E402
from bastion.accounts.models import MfaPolicy, Role, User  # noqa: E402
from bastion.demo.people import build_people  # noqa: E402
from bastion.people.models import Person  # noqa: E402

SIZE = int(os.environ.get("BENCH_PEOPLE", "100000"))


def write_csv(path: Path) -> None:
    people = build_people(SIZE)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["employee_id", "email", "first_name", "last_name", "department", "title",
                    "manager_employee_id", "country", "language", "hire_date", "leave_date"])
        for p in people:
            w.writerow([p.employee_id, p.email, p.first_name, p.last_name, p.department, p.title,
                        p.manager.employee_id if p.manager else "", p.country, p.language,
                        p.hire_date.isoformat() if p.hire_date else "",
                        p.leave_date.isoformat() if p.leave_date else ""])


def timed_import(path: Path, label: str, target_s: float) -> None:
    started = time.perf_counter()
    call_command("import_people", str(path), stdout=open(os.devnull, "w"))  # noqa: SIM115
    elapsed = time.perf_counter() - started
    verdict = "OK" if elapsed < target_s else "SLOW"
    print(f"import {SIZE:,} rows, {label:<12} {elapsed:6.2f} s   (target < {target_s:.0f} s) {verdict}", flush=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "people.csv"
        write_csv(path)
        timed_import(path, "fresh", 20)
        timed_import(path, "unchanged", 10)
    print(f"people in directory: {Person.objects.count():,}")

    policy = MfaPolicy.current()
    policy.required_roles = []
    policy.save()
    lead = User.objects.create_user(email="bench-lead@example.com", role=Role.SECURITY_LEAD)
    web = Client(HTTP_HOST="127.0.0.1")
    web.force_login(lead)
    pages = [
        "/people/", "/people/?page=2", "/people/?page=1000", "/people/?q=smith",
        "/people/?department=Sales", "/people/?country=DE&page=3", "/people/?status=leaver",
        "/people/?q=E050000", "/people/?department=Engineering&country=GB&page=5",
    ]
    latency(web, "people list page", pages)
    _, raw = do_create_token(user=lead, name="bench")
    api = Client(HTTP_HOST="127.0.0.1", headers={"Authorization": f"Bearer {raw}"})
    apis = [
        "/api/v1/people", "/api/v1/people?offset=50000&limit=50", "/api/v1/people?q=smith",
        "/api/v1/people?department=Sales", "/api/v1/people?country=DE&limit=100",
        "/api/v1/people?status=leaver", "/api/v1/people?offset=99000",
    ]
    latency(api, "people API list", apis)


if __name__ == "__main__":
    main()
