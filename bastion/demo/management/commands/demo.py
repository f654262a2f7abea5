"""`bastion demo [--size small|large]`: load a demo organisation so Bastion can be seen working."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from bastion.accounts import actions as account_actions
from bastion.accounts.models import MfaPolicy, Role, User
from bastion.audit.chain import record
from bastion.demo.awareness import load_awareness
from bastion.demo.incidents import load_incidents
from bastion.demo.people import DOMAIN, build_people, save_people
from bastion.demo.phishing import load_phishing
from bastion.demo.response import load_response_plan
from bastion.demo.reviews import load_reviews
from bastion.demo.systems import load_systems
from bastion.people.bulk import refresh_statistics
from bastion.people.models import Group, GroupKind, Person

SIZES = {"small": 300, "large": 100_000}
DEMO_PASSWORD = "bastion-demo-2026"  # noqa: S105 - printed for newcomers on purpose

# Who signs in to the demo, and as which directory person (by title).
DEMO_USERS = [
    (Role.SECURITY_LEAD, "lead", "CISO"),
    (Role.SECURITY_TEAM, "team", "Security Engineer"),
    (Role.EXECUTIVE, "ceo", "Chief Executive Officer"),
    (Role.EXECUTIVE, "counsel", "General Counsel"),  # approves the incident response plan with the CEO
    (Role.BUSINESS_LEADER, "sales.vp", "VP Sales"),
    (Role.MANAGER, "manager", "Sales Manager"),
    (Role.EMPLOYEE, "employee", "Account Executive"),
    (Role.AUDITOR, "auditor", None),
]


class Command(BaseCommand):
    help = "Load a demo organisation (people, managers, groups, users in every role)."

    def add_arguments(self, parser):
        parser.add_argument("--size", choices=sorted(SIZES), default="small")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if the directory already has people.")

    def handle(self, *args, size: str, if_empty: bool, **options):
        if Person.objects.exists():
            if if_empty:
                self._print_logins(already=True)
                return
            raise CommandError("The directory already has people; the demo loads only into an empty Bastion.")
        started = time.monotonic()
        with transaction.atomic():
            people = build_people(SIZES[size])
            save_people(people)
            self._users()
            self._groups()
            load_systems()
            load_reviews()
            # Following up 100,000 people's training queues emails one by one: the large demo
            # leaves that to the worker's first run.
            load_awareness(follow_up=size == "small")
            load_response_plan(ask_readers=size == "small")
            load_phishing()
            load_incidents()
            policy = MfaPolicy.current()
            policy.required_roles = []
            policy.save()
            record("demo.loaded", actor_label="cli", object_repr=f"demo organisation ({size})",
                   after={"people": len(people), "size": size})
        refresh_statistics()
        self.stdout.write(f"Demo organisation loaded: {len(people):,} people in {time.monotonic() - started:.1f} s.")
        self._print_logins(already=False)

    def _users(self) -> None:
        by_title: dict[str, Person] = {}
        for p in Person.objects.filter(title__in=[t for _, _, t in DEMO_USERS if t]).order_by("id"):
            by_title.setdefault(p.title, p)
        manager = by_title.get("Sales Manager")
        if manager is not None:
            # The demo employee reports to the demo manager, so the manager's view shows them.
            first_report = Person.objects.filter(manager=manager, status="active").order_by("id").first()
            if first_report is not None:
                by_title["Account Executive"] = first_report
        for role, local, title in DEMO_USERS:
            person = by_title.get(title) if title else None
            email = person.email if person else f"{local}@{DOMAIN}"
            account_actions.do_create_user(
                acting_user=None, email=email, full_name=str(person) if person else "Avery Auditor",
                role=role, password=DEMO_PASSWORD, person=person, actor_label="cli",
            )

    def _groups(self) -> None:
        Group.objects.create(
            name="Sales", kind=GroupKind.RULE, description="Everyone in Sales, kept current from HR data.",
            rules=[{"field": "department", "op": "is", "value": "Sales"}, {"field": "status", "op": "is", "value": "active"}],
        )
        Group.objects.create(
            name="New joiners 2026", kind=GroupKind.RULE, description="Hired since 1 January 2026.",
            rules=[{"field": "hire_date", "op": "after", "value": "2025-12-31"}, {"field": "status", "op": "is", "value": "active"}],
        )
        Group.objects.create(
            name="Germany", kind=GroupKind.RULE, description="Active staff based in Germany.",
            rules=[{"field": "country", "op": "is", "value": "DE"}, {"field": "status", "op": "is", "value": "active"}],
        )
        Group.objects.create(
            name="Finance and Legal", kind=GroupKind.RULE, description="Teams handling financial reporting and contracts.",
            rules=[{"field": "department", "op": "in", "value": "Finance, Legal"}],
        )
        champions = Group.objects.create(
            name="Security champions", kind=GroupKind.STATIC,
            description="Volunteers who help their teams with security questions.",
        )
        champions.members.set(Person.objects.filter(status="active").exclude(department="Security").order_by("id")[20:200:18])

    def _print_logins(self, already: bool) -> None:
        lead = User.objects.filter(role=Role.SECURITY_LEAD, is_active=True).order_by("id").first()
        if already:
            self.stdout.write("Demo organisation already loaded.")
        if lead is None or not lead.check_password(DEMO_PASSWORD):
            return
        self.stdout.write(
            "\nDemo sign-in (every demo account uses the same password):\n"
            f"  security lead:   {lead.email} / {DEMO_PASSWORD}\n"
        )
        for user in User.objects.exclude(pk=lead.pk).filter(is_active=True).order_by("id")[:10]:
            self.stdout.write(f"  {user.get_role_display().lower():22} {user.email}\n")
        self.stdout.write("  (MFA is not required in the demo; require it per role under Users → MFA policy.)\n")
