"""Register changes, each written together with its audit entry.

Callers validate first (SystemForm, BudgetForm, importer.plan_import); these functions only write.
"""

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from bastion.audit.chain import diff, record
from bastion.lib.emails import queue_email
from bastion.lib.tokens import make_link_token
from bastion.people.models import Person

from . import ranking
from .importer import ImportPlan, plan_import
from .models import (
    BusinessSystem,
    CriticalityReview,
    InvitationStatus,
    ReviewInvitation,
    ReviewResult,
    ReviewStatus,
    SecurityBudget,
    SystemRating,
)


def system_state(system: BusinessSystem, dependencies: Iterable[BusinessSystem] | None = None) -> dict:
    """What the audit trail records of a system: its fields, owner by email, dependencies by name."""
    state: dict[str, Any] = {
        "name": system.name, "description": system.description,
        "owner": system.owner.email if system.owner_id and system.owner else None,
        "business_processes": system.business_processes,
        "data_classification": system.data_classification, "personal_data": system.personal_data,
        "health_data": system.health_data, "card_data": system.card_data,
        "financial_reporting": system.financial_reporting, "users_count": system.users_count,
        "hosting": system.hosting, "hosting_detail": system.hosting_detail,
        "rto_hours": _number(system.rto_hours), "rpo_hours": _number(system.rpo_hours),
        "mtd_hours": _number(system.mtd_hours), "security_spend": _number(system.security_spend),
        "status": system.status,
    }
    if dependencies is not None:
        state["depends_on"] = sorted(d.name for d in dependencies)
    return state


def _number(value: Decimal | None) -> str | None:
    # Decimals compare by value but print by precision: 4 and 4.00 are one value, one text.
    return None if value is None else f"{Decimal(value):.2f}"


@transaction.atomic
def do_create_system(*, acting_user, dependencies: Iterable[BusinessSystem] = (), request=None,
                     **fields) -> BusinessSystem:
    """Add a system to the register with the systems it depends on."""
    now = timezone.now()
    dependencies = list(dependencies)
    system = BusinessSystem.objects.create(created_at=now, updated_at=now, **fields)
    system.dependencies.set(dependencies)
    record("system.created", actor=acting_user, obj=system, after=system_state(system, dependencies),
           request=request)
    return system


@transaction.atomic
def do_update_system(*, acting_user, system: BusinessSystem,
                     dependencies: Iterable[BusinessSystem] | None = None, request=None,
                     **changes) -> BusinessSystem:
    """Change a system's fields and, when given, replace its dependencies; the audit entry holds
    only what changed."""
    current = list(system.dependencies.only("pk", "name")) if dependencies is not None else None
    before = system_state(system, current)
    for name, value in changes.items():
        setattr(system, name, value)
    if dependencies is not None:
        dependencies = list(dependencies)
    old, new = diff(before, system_state(system, dependencies))
    if new:
        system.updated_at = timezone.now()
        system.save()
        if "depends_on" in new:
            system.dependencies.set(dependencies or [])
        record("system.updated", actor=acting_user, obj=system, before=old, after=new, request=request)
    return system


@transaction.atomic
def do_set_budget(*, acting_user, year: int, total: Decimal, currency: str,
                  spends: dict[BusinessSystem, Decimal | None] | None = None,
                  request=None) -> SecurityBudget:
    """Set the year's total security budget and the annual spend of the systems given, in one
    audit entry listing what changed."""
    budget = SecurityBudget.objects.filter(year=year).first()
    old: dict = {}
    new: dict = {}
    if budget is None:
        budget = SecurityBudget.objects.create(year=year, total=total, currency=currency)
        new = {"year": year, "total": _number(total), "currency": currency}
    else:
        old, new = diff({"total": _number(budget.total), "currency": budget.currency},
                        {"total": _number(total), "currency": currency})
        if new:
            budget.total, budget.currency, budget.updated_at = total, currency, timezone.now()
            budget.save()
    now = timezone.now()
    spend_before: dict[str, str | None] = {}
    spend_after: dict[str, str | None] = {}
    changed = []
    for system, spend in (spends or {}).items():
        if _number(system.security_spend) == _number(spend):
            continue
        spend_before[system.name], spend_after[system.name] = _number(system.security_spend), _number(spend)
        system.security_spend, system.updated_at = spend, now
        changed.append(system)
    if changed:
        BusinessSystem.objects.bulk_update(changed, ["security_spend", "updated_at"])
        old["security_spend"], new["security_spend"] = spend_before, spend_after
    if new:
        record("systems.budget_set", actor=acting_user, obj=budget, before=old or None, after=new,
               request=request)
    return budget


def do_apply_systems_import(*, text: str, filename: str, acting_user=None, actor_label: str | None = None,
                            request=None) -> ImportPlan:
    """Plan the import against the register as it is now and, if the file has no error, write
    it all in one transaction with one audit entry. Returns the plan (with errors, nothing written)."""
    with transaction.atomic():
        plan = plan_import(text)
        if not plan.ok:
            return plan
        now = timezone.now()
        created = BusinessSystem.objects.bulk_create(
            [BusinessSystem(created_at=now, updated_at=now, **values) for values in plan.new])
        to_update = []
        fields: set[str] = set()
        for system, values, _diffs in plan.changed:
            for name, value in values.items():
                setattr(system, name, value)
            system.updated_at = now
            fields |= set(values)
            to_update.append(system)
        if to_update:
            BusinessSystem.objects.bulk_update(to_update, [*sorted(fields), "updated_at"], batch_size=500)
        if "depends_on" in plan.columns:
            _write_dependencies(plan, created)
        counts = plan.counts()
        record("systems.imported", actor=acting_user, actor_label=actor_label,
               object_type="systems.businesssystem", object_repr=f"systems import {filename}"[:300],
               after={"filename": filename, **{k: v for k, v in counts.items() if k != "errors"},
                      "created_names": [v["name"] for v in plan.new][:1000],
                      "changed_names": [s.name for s, _, _ in plan.changed][:1000]},
               request=request)
    return plan


def _write_dependencies(plan: ImportPlan, created: list[BusinessSystem]) -> None:
    through = BusinessSystem.dependencies.through
    touched = list(created) + [s for s, _, diffs in plan.changed if "depends_on" in diffs]
    if not touched:
        return
    ids = {s.name.casefold(): s.pk for s in BusinessSystem.objects.only("pk", "name")}
    touched_ids = [s.pk for s in touched]
    for start in range(0, len(touched_ids), 500):
        through.objects.filter(from_businesssystem_id__in=touched_ids[start:start + 500]).delete()
    through.objects.bulk_create([
        through(from_businesssystem_id=s.pk, to_businesssystem_id=ids[d.casefold()])
        for s in touched for d in plan.dependencies.get(s.name.casefold(), [])
    ], batch_size=1000)


REVIEW_ANSWER_PURPOSE = "review-answer"


@transaction.atomic
def do_create_review(*, acting_user, title: str, deadline, aggregation: str,
                     systems: Iterable[BusinessSystem], leaders: Iterable[Person],
                     dimensions: list[dict] | None = None, tier_thresholds: list[float] | None = None,
                     leader_systems: Mapping[int, Iterable[BusinessSystem]] | None = None,
                     request=None) -> CriticalityReview:
    """Create a draft review with its systems in scope and one invitation per leader.

    ``leader_systems`` (person id → systems) narrows what a leader rates to the systems their
    processes depend on; a leader not in it rates every system in scope."""
    systems, leaders = list(systems), list(leaders)
    review = CriticalityReview(title=title, deadline=deadline, aggregation=aggregation, created_by=acting_user)
    if dimensions is not None:
        review.dimensions = dimensions
    if tier_thresholds is not None:
        review.tier_thresholds = tier_thresholds
    review.save()
    review.systems.set(systems)
    invitations = ReviewInvitation.objects.bulk_create([ReviewInvitation(review=review, person=p) for p in leaders])
    scoped = {}
    for invitation in invitations:
        chosen = list((leader_systems or {}).get(invitation.person_id, ()))
        if chosen:
            invitation.systems.set(chosen)
            scoped[invitation.person.email] = sorted(s.name for s in chosen)
    record("review.created", actor=acting_user, obj=review, request=request, after={
        "title": title, "deadline": deadline.isoformat(), "aggregation": aggregation,
        "dimensions": review.dimensions, "tier_thresholds": review.tier_thresholds,
        "systems": sorted(s.name for s in systems), "leaders": sorted(p.email for p in leaders),
        **({"leader_systems": scoped} if scoped else {})})
    return review


@transaction.atomic
def do_set_leader_systems(*, acting_user, invitation: ReviewInvitation, systems: Iterable[BusinessSystem],
                          request=None) -> None:
    """Set the systems a leader rates (empty = every system in scope). Ratings they saved for a
    system no longer theirs are dropped, so that only systems they depend on count."""
    invitation = ReviewInvitation.objects.select_for_update().select_related("review", "person").get(
        pk=invitation.pk)
    if invitation.review.status == ReviewStatus.CLOSED:
        raise ValueError("The review is closed; what each leader rated is kept as it was.")
    if invitation.status == InvitationStatus.SUBMITTED:
        raise ValueError(f"{invitation.person} has already submitted their answers.")
    before = sorted(invitation.systems.values_list("name", flat=True))
    systems = list(systems)
    invitation.systems.set(systems)
    if systems:
        invitation.ratings.exclude(system__in=systems).delete()
    record("review.leader_systems_set", actor=acting_user, obj=invitation, request=request,
           before={"systems": before or "all in scope"},
           after={"systems": sorted(s.name for s in systems) or "all in scope"})


def review_link_expiry(review: CriticalityReview, now: datetime) -> timedelta:
    """Answer links work until the end of the day after the deadline (UTC)."""
    end = datetime.combine(review.deadline + timedelta(days=2), time.min, tzinfo=UTC)
    return max(end - now, timedelta(hours=1))


@transaction.atomic
def do_open_review(*, acting_user, review: CriticalityReview, request=None) -> int:
    """Open the review and queue one email per invited leader with their signed answer link.

    Returns the number of emails queued."""
    review = CriticalityReview.objects.select_for_update().get(pk=review.pk)
    review.move_to(ReviewStatus.OPEN)
    review.save(update_fields=["status", "opened_at"])
    expires_in = review_link_expiry(review, review.opened_at or timezone.now())
    invitations = list(review.invitations.select_related("person"))
    for invitation in invitations:
        token = make_link_token(REVIEW_ANSWER_PURPOSE, invitation.pk, expires_in=expires_in)
        queue_email(invitation.person.email, "review_invitation", {
            "person": invitation.person, "review": review,
            "path": reverse("review-answer-link", args=[token]),
        })
    record("review.opened", actor=acting_user, obj=review, request=request,
           after={"invited": sorted(i.person.email for i in invitations)})
    return len(invitations)


@transaction.atomic
def do_save_answers(*, invitation: ReviewInvitation, answers: Mapping[int, dict], submit: bool,
                    acting_user=None, request=None) -> ReviewInvitation:
    """Replace the leader's ratings with ``answers`` (system id → impacts, downtime, notes) and,
    with ``submit``, mark their answer submitted. Validation is the form's; this only writes."""
    invitation = ReviewInvitation.objects.select_for_update().select_related("review", "person").get(
        pk=invitation.pk)
    if invitation.review.status != ReviewStatus.OPEN or invitation.status == InvitationStatus.SUBMITTED:
        raise ValueError("This review no longer takes answers.")
    invitation.ratings.all().delete()
    SystemRating.objects.bulk_create([
        SystemRating(invitation=invitation, system_id=system_id, impacts=answer["impacts"],
                     tolerable_downtime_hours=answer["tolerable_downtime_hours"], notes=answer["notes"])
        for system_id, answer in answers.items()
        if any(v is not None for v in answer["impacts"].values())
        or answer["tolerable_downtime_hours"] is not None or answer["notes"]
    ])
    invitation.status = InvitationStatus.SUBMITTED if submit else InvitationStatus.DRAFT
    if submit:
        invitation.submitted_at = timezone.now()
    invitation.save(update_fields=["status", "submitted_at"])
    record("review.answer_submitted" if submit else "review.answer_saved", actor=acting_user,
           actor_label=None if acting_user else invitation.person.email, obj=invitation, request=request,
           after={"review": invitation.review.pk, "systems_rated": len(answers)})
    return invitation


def _float(value) -> float | None:
    return None if value is None else float(value)


@transaction.atomic
def do_close_review(*, acting_user, review: CriticalityReview, request=None) -> ranking.ReviewResults:
    """Close the review, compute its results from the leaders' ratings and keep them."""
    review = CriticalityReview.objects.select_for_update().get(pk=review.pk)
    review.move_to(ReviewStatus.CLOSED)
    # Plain values, not model instances: at 100,000 ratings building the instances would cost
    # more than the ranking itself.
    systems = list(review.systems.values_list("pk", "name", "rto_hours", "security_spend"))
    scope = CriticalityReview.systems.through.objects.filter(criticalityreview_id=review.pk).values(
        "businesssystem_id")
    in_scope = {pk for pk, *_ in systems}
    through = BusinessSystem.dependencies.through
    deps: dict[int, list[int]] = {}
    for source, target in through.objects.filter(from_businesssystem_id__in=scope).values_list(
            "from_businesssystem_id", "to_businesssystem_id"):
        if target in in_scope:  # the tiers propagate only through systems the review rated
            deps.setdefault(source, []).append(target)
    inputs = [ranking.SystemInput(id=pk, name=name, dependencies=tuple(deps.get(pk, ())),
                                  rto_hours=_float(rto), security_spend=_float(spend))
              for pk, name, rto, spend in systems]
    keys = set(review.dimension_keys)
    ratings = [
        ranking.RatingInput(leader_id=leader, system_id=system_id,
                            # Answers for a dimension the review does not have are left out.
                            impacts=impacts if keys.issuperset(impacts)
                            else {k: v for k, v in impacts.items() if k in keys},
                            tolerable_downtime_hours=_float(downtime))
        for leader, system_id, impacts, downtime in SystemRating.objects.filter(
            invitation__review=review, system_id__in=scope,
            invitation__status=InvitationStatus.SUBMITTED,  # drafts don't count
        ).values_list("invitation_id", "system_id", "impacts", "tolerable_downtime_hours")
    ]
    budget = SecurityBudget.objects.filter(year=timezone.now().year).first()
    config = ranking.ReviewConfig(
        dimensions=tuple(ranking.Dimension(d["key"], float(d["weight"])) for d in review.dimensions),
        aggregation=ranking.Aggregation(review.aggregation),
        tier_thresholds=tuple(float(t) for t in review.tier_thresholds),
        total_budget=float(budget.total) if budget else None,
    )
    results = ranking.compute_results(inputs, ratings, config)
    shares = {line.system_id: line for line in results.budget.lines}
    ReviewResult.objects.bulk_create([
        ReviewResult(review=review, system_id=r.system_id, score=r.score, rank=r.rank, raters=r.raters,
                     spread=r.spread, stdev=r.stdev, tier=r.tier, effective_tier=r.effective_tier,
                     raised_reason=r.raised.reason if r.raised else "",
                     tolerable_downtime_hours=r.tolerable_downtime_hours, rto_gap=r.rto_gap,
                     warranted_share=shares[r.system_id].warranted_share if r.system_id in shares else None,
                     actual_share=shares[r.system_id].actual_share if r.system_id in shares else None)
        for r in results.systems
    ], batch_size=1000)
    review.save(update_fields=["status", "closed_at"])
    record("review.closed", actor=acting_user, obj=review, request=request,
           after={"systems": len(systems), "ratings": len(ratings), "ranked": len(results.ranking)})
    return results
