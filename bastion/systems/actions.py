"""Register changes, each written together with its audit entry.

Callers validate first (SystemForm, BudgetForm, importer.plan_import); these functions only write.
"""

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from bastion.audit.chain import diff, record

from .importer import ImportPlan, plan_import
from .models import BusinessSystem, SecurityBudget


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
