"""Criticality review at 5,000 systems, 60 leaders, 100,000 ratings: closing the review, and the
results page and API latency (server time)."""

import os
import random
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bastion.settings")

import django  # noqa: E402

django.setup()

from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from latency import latency  # noqa: E402

from bastion.accounts.actions import do_create_token  # noqa: E402
from bastion.accounts.models import MfaPolicy, Role, User  # noqa: E402
from bastion.people.models import Person  # noqa: E402
from bastion.systems import actions  # noqa: E402
from bastion.systems.models import (  # noqa: E402
    BusinessSystem,
    CriticalityReview,
    InvitationStatus,
    SecurityBudget,
    SystemRating,
)
from bastion.systems.ranking import DEFAULT_DIMENSIONS  # noqa: E402

SYSTEMS = int(os.environ.get("BENCH_SYSTEMS", "5000"))
LEADERS = int(os.environ.get("BENCH_LEADERS", "60"))
RATINGS = int(os.environ.get("BENCH_RATINGS", "100000"))
CLOSE_TARGET_S = 5
RTO_CHOICES = [None, Decimal(1), Decimal(4), Decimal(8), Decimal(24), Decimal(48), Decimal(72)]


def create_systems(rng: random.Random) -> list[BusinessSystem]:
    now = timezone.now()
    systems = BusinessSystem.objects.bulk_create([
        BusinessSystem(name=f"Bench system {i:05d}", rto_hours=rng.choice(RTO_CHOICES),
                       # One system in ten has no recorded spend.
                       security_spend=None if rng.random() < 0.1 else Decimal(rng.randrange(1_000, 200_000)),
                       created_at=now, updated_at=now)
        for i in range(SYSTEMS)
    ], batch_size=1000)  # bulk_create sets the ids on PostgreSQL and SQLite alike
    # Each system depends on up to three earlier ones (chains several levels deep), plus a few cycles.
    through = BusinessSystem.dependencies.through
    edges = {(s.pk, rng.choice(systems[:i]).pk) for i, s in enumerate(systems[1:], start=1)
             for _ in range(rng.randrange(0, 4))}
    edges |= {(systems[i].pk, systems[i + 7].pk) for i in range(0, SYSTEMS - 7, 500)}
    through.objects.bulk_create([through(from_businesssystem_id=a, to_businesssystem_id=b) for a, b in edges],
                                batch_size=2000)
    return systems


def create_leaders() -> list[Person]:
    Person.objects.bulk_create([
        Person(employee_id=f"BL{i:03d}", email=f"bench-leader{i}@example.com", first_name=f"Leader{i}",
               last_name=f"Bench{i:03d}", title="VP")
        for i in range(LEADERS)
    ])
    return list(Person.objects.filter(employee_id__startswith="BL").order_by("employee_id"))


def create_ratings(rng: random.Random, review: CriticalityReview, systems: list[BusinessSystem]) -> None:
    """RATINGS submitted ratings, spread evenly over the invitations; each leader rates a random
    sample of the systems around the system's shared criticality (one rating in fifty far from
    it: a disagreement), sometimes skipping a dimension or giving a tolerable downtime."""
    invitations = list(review.invitations.order_by("id"))
    criticality = {s.pk: rng.triangular(1, 5, 2.5) for s in systems}
    per_leader = RATINGS // len(invitations)
    rows = []
    for n, invitation in enumerate(invitations):
        count = per_leader + (1 if n < RATINGS % len(invitations) else 0)
        leaning = rng.gauss(0, 0.3)
        for system in rng.sample(systems, k=count):
            base = criticality[system.pk] + leaning
            if rng.random() < 0.02:
                base = 6 - base
            impacts = {key: max(1, min(5, round(base + rng.gauss(0, 0.6)))) for key in DEFAULT_DIMENSIONS
                       if rng.random() > 0.1}
            downtime = Decimal(rng.choice([1, 2, 4, 12, 24, 72])) if rng.random() < 0.3 else None
            rows.append(SystemRating(invitation=invitation, system_id=system.pk, impacts=impacts,
                                     tolerable_downtime_hours=downtime))
    SystemRating.objects.bulk_create(rows, batch_size=2000)
    review.invitations.update(status=InvitationStatus.SUBMITTED, submitted_at=timezone.now())


def main() -> None:
    rng = random.Random(11)
    started = time.perf_counter()
    systems = create_systems(rng)
    leaders = create_leaders()
    SecurityBudget.objects.update_or_create(year=timezone.now().year,
                                            defaults={"total": Decimal(500_000_000), "currency": "EUR"})
    policy = MfaPolicy.current()
    policy.required_roles = []
    policy.save()
    lead = User.objects.create_user(email="bench-review-lead@example.com", role=Role.SECURITY_LEAD)
    review = actions.do_create_review(acting_user=lead, title="Bench review", aggregation="mean",
                                      deadline=timezone.localdate() + timedelta(days=14),
                                      systems=systems, leaders=leaders)
    actions.do_open_review(acting_user=lead, review=review)
    create_ratings(rng, review, systems)
    print(f"setup: {len(systems):,} systems, {len(leaders)} leaders, "
          f"{SystemRating.objects.filter(invitation__review=review).count():,} ratings "
          f"in {time.perf_counter() - started:.1f} s", flush=True)

    review.refresh_from_db()
    started = time.perf_counter()
    actions.do_close_review(acting_user=lead, review=review)
    elapsed = time.perf_counter() - started
    verdict = "OK" if elapsed < CLOSE_TARGET_S else "SLOW"
    print(f"close review (compute and keep results) {elapsed:6.2f} s   (target < {CLOSE_TARGET_S} s) {verdict}",
          flush=True)

    web = Client(HTTP_HOST="127.0.0.1")
    web.force_login(lead)
    page = reverse("review-results", args=[review.pk])
    latency(web, "review results page", [page, f"{page}?page=2", f"{page}?page=40"], rounds=10)
    _, raw = do_create_token(user=lead, name="bench-reviews")
    api = Client(HTTP_HOST="127.0.0.1", headers={"Authorization": f"Bearer {raw}"})
    results = f"/api/v1/reviews/{review.pk}/results"
    latency(api, "review results API", [results, f"{results}?offset=2000", f"{results}?offset=4900&limit=100"],
            rounds=10)


if __name__ == "__main__":
    main()
