"""The demo's criticality reviews: last year's and this year's, answered by six leaders and closed.

Everything goes through the review actions (create, open, answer, close), so the audit trail,
invitations and results are exactly what a real review leaves. The ratings are seeded random
around each system's "true" criticality, with a few deliberate features worth showing:

- three systems where one leader strongly disagrees with the others (conversations to have);
- systems nobody in the business thinks of (the database cluster, backup) that rank low on
  their own and are raised to tier 1 because the ERP depends on them;
- leaders who skip systems their processes don't touch;
- tolerable downtimes shorter than the documented RTO (RTO gaps).
"""

import random
from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from bastion.accounts.models import Role, User
from bastion.people.models import Person
from bastion.systems import actions
from bastion.systems.models import (
    BusinessSystem,
    CriticalityReview,
    ReviewAggregation,
    SystemStatus,
)

LEADER_TITLES = ["CFO", "COO", "VP Sales", "CIO", "General Counsel", "Chief Executive Officer"]
DIMENSIONS = ("financial", "operational", "legal_regulatory", "reputational", "safety")
# How each dimension usually sits against a system's overall criticality (few systems hurt people).
DIMENSION_BIAS = {"financial": 0.1, "operational": 0.3, "legal_regulatory": -0.3, "reputational": -0.2,
                  "safety": -1.6}

# The business's shared view of each system, 1–5 (leaders scatter around it).
TRUE_CRITICALITY = {
    "Entra ID": 4.5, "Corporate network": 4.3, "VPN": 3.0, "SAP S/4HANA ERP": 4.8, "General ledger": 4.0,
    "Manhattan WMS": 4.6, "Oracle TMS": 4.2, "EDI gateway": 3.8, "Fleet telematics": 2.3,
    "Handheld scanners": 2.6, "Customer portal": 3.9, "E-commerce site": 3.6, "Payment gateway": 4.3,
    "Salesforce CRM": 2.6, "Workday HRIS": 2.8, "Payroll": 3.9, "Expense management": 1.8,
    "Data warehouse": 2.5, "Power BI": 2.0, "Microsoft 365 email": 3.6, "Teams": 3.0, "File shares": 2.6,
    "SharePoint intranet": 1.4, "Marketing website": 1.6, "Marketing automation": 1.5, "ServiceNow": 2.3,
    "Customer support desk": 3.0, "Contact centre telephony": 3.2, "GitHub": 2.4, "CI/CD pipelines": 2.1,
    "AWS landing zone": 3.4, "Oracle database cluster": 2.2, "Backup": 2.0, "Contract management": 1.8,
    "Legal hold and e-discovery": 1.5, "Procurement portal": 1.9, "Treasury and banking": 4.1,
    "Dock scheduling": 2.1, "Yard management": 1.9, "Occupational health records": 2.4,
    "Security monitoring (SIEM)": 2.7,
}
# One leader far from the others: (system, leader's title, the score they give everywhere).
DISAGREEMENTS = [
    ("Salesforce CRM", "VP Sales", 5),
    ("Legal hold and e-discovery", "General Counsel", 5),
    ("Fleet telematics", "COO", 5),
]
# Systems a leader's processes don't touch: they leave them blank.
SKIPS = {
    "VP Sales": {"Oracle database cluster", "Backup", "Dock scheduling", "Yard management", "General ledger",
                 "Handheld scanners", "CI/CD pipelines", "Occupational health records"},
    "General Counsel": {"Handheld scanners", "Dock scheduling", "Yard management", "Fleet telematics",
                        "CI/CD pipelines", "EDI gateway"},
    "COO": {"Legal hold and e-discovery", "Contract management", "Marketing automation"},
    "Chief Executive Officer": {"CI/CD pipelines", "Oracle database cluster", "Dock scheduling"},
}
# Downtime a leader says they can bear, shorter than the documented RTO: (system, title, hours).
TIGHT_DOWNTIMES = [
    ("Oracle TMS", "COO", 12), ("Treasury and banking", "CFO", 4), ("Contact centre telephony", "VP Sales", 1),
    ("Customer portal", "Chief Executive Officer", 2),
]
NOTES = {
    ("Salesforce CRM", "VP Sales"): "Without the CRM the sales team cannot quote or see the pipeline; "
                                    "quarter-end without it would cost us deals.",
    ("Legal hold and e-discovery", "General Counsel"): "Two pending cases: losing a legal hold means "
                                                       "sanctions from the court, whatever the cost to IT.",
    ("Fleet telematics", "COO"): "Drivers' hours must be recorded by law; without telematics the trucks stop.",
    ("Oracle TMS", "COO"): "After half a day without route planning the depots miss the evening departures.",
    ("Payment gateway", "CFO"): "Every hour down is about €40k of online orders lost.",
    ("Treasury and banking", "CFO"): "The supplier payment run is on Thursdays; a fraudulent change of bank "
                                     "details is my biggest worry.",
    ("SAP S/4HANA ERP", "Chief Executive Officer"): "If the ERP is down, nothing ships. Full stop.",
}
LADDER = (1, 2, 4, 8, 12, 24, 48, 72, 120, 168, 336, 720)


def _clamp(value: float) -> int:
    return max(1, min(5, round(value)))


def _downtime(rng: random.Random, mtd: Decimal | None) -> Decimal | None:
    """A tolerable downtime near the documented MTD (a step shorter or longer), or none."""
    if mtd is None or rng.random() < 0.25:
        return None
    nearest = min(range(len(LADDER)), key=lambda i: abs(LADDER[i] - float(mtd)))
    step = max(0, min(len(LADDER) - 1, nearest + rng.choice((-1, 0, 0, 1))))
    return Decimal(LADDER[step])


def _answers(rng: random.Random, title: str, systems: list[BusinessSystem], shift: float) -> dict[int, dict]:
    disagreement = {(name, who): score for name, who, score in DISAGREEMENTS}
    tight = {(name, who): hours for name, who, hours in TIGHT_DOWNTIMES}
    answers: dict[int, dict] = {}
    for system in systems:
        if system.name in SKIPS.get(title, set()):
            continue
        true = TRUE_CRITICALITY.get(system.name, 2.5) + shift
        impacts: dict[str, int | None]
        if (system.name, title) in disagreement:
            level = disagreement[(system.name, title)]
            impacts = {d: level if d != "safety" else _clamp(level - 2) for d in DIMENSIONS}
        else:
            impacts = {d: _clamp(rng.gauss(true + DIMENSION_BIAS[d], 0.6)) for d in DIMENSIONS}
            if rng.random() < 0.1:
                impacts["safety"] = None  # not sure: left blank
        hours = tight.get((system.name, title))
        answers[system.pk] = {
            "impacts": impacts,
            "tolerable_downtime_hours": Decimal(hours) if hours is not None else _downtime(rng, system.mtd_hours),
            "notes": NOTES.get((system.name, title), ""),
        }
    return answers


def load_review(*, lead: User, leaders: dict[str, Person], systems: list[BusinessSystem], title: str,
                deadline: date, seed: int, shift: float = 0.0) -> CriticalityReview:
    """Create, open, answer (every leader submits) and close one review."""
    rng = random.Random(seed)
    review = actions.do_create_review(
        acting_user=lead, title=title, deadline=deadline, aggregation=ReviewAggregation.MEAN,
        systems=systems, leaders=[leaders[t] for t in LEADER_TITLES if t in leaders])
    actions.do_open_review(acting_user=lead, review=review)
    by_person = {p.pk: t for t, p in leaders.items()}
    for invitation in review.invitations.order_by("id"):
        actions.do_save_answers(invitation=invitation, submit=True,
                                answers=_answers(rng, by_person[invitation.person_id], systems, shift))
    actions.do_close_review(acting_user=lead, review=review)
    return review


def load_reviews(today: date | None = None) -> list[CriticalityReview]:
    """Last year's review (a little different) and this year's, both closed."""
    today = today or timezone.localdate()
    lead = User.objects.filter(role=Role.SECURITY_LEAD).order_by("id").first()
    leaders: dict[str, Person] = {}
    for person in Person.objects.filter(title__in=LEADER_TITLES).order_by("id"):
        leaders.setdefault(person.title, person)
    systems = list(BusinessSystem.objects.filter(status=SystemStatus.ACTIVE).order_by("name"))
    if lead is None or not leaders or not systems:
        return []
    earlier = load_review(lead=lead, leaders=leaders, systems=systems, title="Annual criticality review 2025",
                          deadline=date(2025, 10, 31), seed=2025, shift=-0.2)
    # Last year's review happened last year: its dates say so.
    year_ago = timezone.now() - timedelta(days=365)
    CriticalityReview.objects.filter(pk=earlier.pk).update(
        created_at=year_ago - timedelta(days=30), opened_at=year_ago - timedelta(days=29), closed_at=year_ago)
    current = load_review(lead=lead, leaders=leaders, systems=systems, title="Annual criticality review 2026",
                          deadline=today - timedelta(days=3), seed=2026)
    return [earlier, current]
