from datetime import date
from typing import Any, cast

from django.core.cache import cache
from django.db import models
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower
from django.utils import timezone


class PersonStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    LEAVER = "leaver", "Leaver"


class PersonQuerySet(models.QuerySet["Person"]):
    def active(self) -> "PersonQuerySet":
        return self.filter(status=PersonStatus.ACTIVE)

    def search(self, text: str) -> "PersonQuerySet":
        """People matching every word: a word matches the start of the first name, last name
        or email (any case), or the whole employee id.

        Start-of-word matching is what people type ("smi" for Smith), and unlike a substring
        match it is answered from indexes: each test is a range on an indexed (lower-cased)
        column, so a search over 100,000 people does not read them all.
        """
        qs = self.annotate(_first_lc=Lower("first_name"), _last_lc=Lower("last_name"))
        for original in text.split()[:5]:
            word = original.lower()
            upper = word[:-1] + chr(ord(word[-1]) + 1)
            qs = qs.filter(
                Q(_first_lc__gte=word, _first_lc__lt=upper)
                | Q(_last_lc__gte=word, _last_lc__lt=upper)
                | Q(email__gte=word, email__lt=upper)
                # Exact, not case-folded, so the unique index answers it; HR ids are
                # usually upper case, so that spelling is tried too.
                | Q(employee_id__in={original, original.upper(), word})
            )
        return qs

    def reporting_to(self, person: "Person", depth: int = 8) -> "PersonQuerySet":
        """Everyone whose management chain reaches `person` within `depth` levels.

        One recursive query down the chain (level by level through the manager index) rather
        than a join per level: a team is found without visiting the rest of the directory. A
        loop in the chain ends at `depth`, as does every chain.
        """
        if depth < 1:
            return self.none()
        # Names and values never come from input: the depth and the person's id are parameters.
        team = (
            "WITH RECURSIVE team (id, level) AS ("
            " SELECT id, 1 FROM people_person WHERE manager_id = %s"
            " UNION SELECT p.id, team.level + 1 FROM people_person p JOIN team ON p.manager_id = team.id"
            " WHERE team.level < %s"
            ") SELECT id FROM team"
        )
        return self.filter(pk__in=RawSQL(team, (person.pk, depth)))  # noqa: S611

    def departments(self) -> list[str]:
        """The distinct non-empty departments in this set of people.

        For the whole directory the list is cached, keyed by the newest change (two index
        lookups), so a change anywhere shows at once and an unchanged directory is not rescanned.
        """
        def compute() -> list[str]:
            return list(
                self.exclude(department="").order_by("department")
                .values_list("department", flat=True).distinct()
            )

        if self.query.has_filters():
            return compute()
        # A new person's updated_at is their creation time, so this covers additions too.
        # (One aggregate per query: SQLite answers a lone MAX from the index.)
        changed = Person.objects.aggregate(changed=models.Max("updated_at"))["changed"]
        key = f"people-departments-{changed.timestamp() if changed else 0}"
        return cast(list[str], cache.get_or_set(key, compute, 3600))


class Person(models.Model):
    """Someone in the organisation's directory. The employee id is HR's key."""

    employee_id = models.CharField(max_length=64, unique=True)
    email = models.EmailField(unique=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    department = models.CharField(max_length=100, blank=True, db_index=True)
    title = models.CharField(max_length=150, blank=True)
    manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 two-letter code")
    language = models.CharField(max_length=16, blank=True, help_text="e.g. en, de, fr-CA")
    hire_date = models.DateField(null=True, blank=True)
    leave_date = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=PersonStatus.choices, default=PersonStatus.ACTIVE, db_index=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = PersonQuerySet.as_manager()

    # The fields an HR import or an edit may set, in the order of the canonical CSV.
    DIRECTORY_FIELDS = (
        "employee_id", "email", "first_name", "last_name", "department", "title",
        "manager", "country", "language", "hire_date", "leave_date", "status",
    )

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(fields=["last_name", "first_name", "id"]),
            # The list's default: active people by name (also covers paging by id alone).
            models.Index(fields=["status", "last_name", "first_name", "id"]),
            models.Index(fields=["updated_at"]),
            models.Index(Lower("first_name"), name="person_first_name_lower"),
            models.Index(Lower("last_name"), name="person_last_name_lower"),
            models.Index(fields=["country"]),
            models.Index(fields=["hire_date"]),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def full_name(self) -> str:
        return str(self)

    def chain_of_command(self, limit: int = 100) -> list[int]:
        """The ids of this person's managers, nearest first; stops at a loop or after `limit`."""
        chain: list[int] = []
        manager_id = self.manager_id
        while manager_id is not None and manager_id not in chain and len(chain) < limit:
            chain.append(manager_id)
            manager_id = Person.objects.filter(pk=manager_id).values_list("manager_id", flat=True).first()
        return chain

    def snapshot(self) -> dict[str, Any]:
        """The directory fields as plain values, for the audit trail and the importer."""
        data: dict[str, Any] = {}
        for name in self.DIRECTORY_FIELDS:
            if name == "manager":
                data["manager"] = self.manager.employee_id if self.manager_id and self.manager else None
                continue
            value = getattr(self, name)
            data[name] = value.isoformat() if isinstance(value, date) else value
        return data


class GroupKind(models.TextChoices):
    STATIC = "static", "Static (chosen members)"
    RULE = "rule", "Rule-based (stays current)"


class RuleField(models.TextChoices):
    DEPARTMENT = "department", "Department"
    COUNTRY = "country", "Country"
    TITLE = "title", "Title"
    MANAGER = "manager", "Manager (employee id)"
    HIRE_DATE = "hire_date", "Hire date"
    STATUS = "status", "Status"


class RuleOp(models.TextChoices):
    IS = "is", "is"
    IS_NOT = "is_not", "is not"
    IN = "in", "is one of (comma-separated)"
    CONTAINS = "contains", "contains"
    AFTER = "after", "after"
    BEFORE = "before", "before"
    REPORTS_TO = "reports_to", "reports (directly or not) to"


# Which operators make sense for which field.
RULE_OPS: dict[str, tuple[str, ...]] = {
    RuleField.DEPARTMENT: (RuleOp.IS, RuleOp.IS_NOT, RuleOp.IN, RuleOp.CONTAINS),
    RuleField.COUNTRY: (RuleOp.IS, RuleOp.IS_NOT, RuleOp.IN),
    RuleField.TITLE: (RuleOp.IS, RuleOp.IS_NOT, RuleOp.CONTAINS),
    RuleField.MANAGER: (RuleOp.IS, RuleOp.REPORTS_TO),
    RuleField.HIRE_DATE: (RuleOp.AFTER, RuleOp.BEFORE),
    RuleField.STATUS: (RuleOp.IS, RuleOp.IS_NOT),
}


class GroupQuerySet(models.QuerySet["Group"]):
    def containing(self, person: "Person", chunk: int = 50) -> list["Group"]:
        """The groups `person` is in right now: static membership and rule groups that match.

        Rule groups are tested in batches of `chunk`, each batch one UNION query, so the cost
        grows with the number of rule groups divided by `chunk`, not with the directory.
        """
        found = list(self.filter(kind=GroupKind.STATIC, members=person))
        rule_groups = {g.pk: g for g in self.filter(kind=GroupKind.RULE)}
        ids = list(rule_groups)
        for start in range(0, len(ids), chunk):
            tests = [
                Person.objects.filter(pk=person.pk).filter(rules_to_q(rule_groups[pk].rules))
                .order_by()
                .annotate(group_id=models.Value(pk, output_field=models.BigIntegerField()))
                .values_list("group_id", flat=True)
                for pk in ids[start:start + chunk]
            ]
            matched = tests[0].union(*tests[1:], all=True).order_by() if len(tests) > 1 else tests[0]
            found.extend(rule_groups[pk] for pk in matched)
        return sorted(found, key=lambda g: g.name.lower())


class Group(models.Model):
    """A set of people: chosen by hand (static) or by rules evaluated whenever it is read."""

    name = models.CharField(max_length=150, unique=True)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=GroupKind.choices, default=GroupKind.STATIC)
    # Rule-based groups: every condition must hold. [{"field": .., "op": .., "value": ..}]
    rules = models.JSONField(default=list, blank=True)
    members = models.ManyToManyField(Person, blank=True, related_name="static_groups")
    created_at = models.DateTimeField(default=timezone.now)

    objects = GroupQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_rule_based(self) -> bool:
        return self.kind == GroupKind.RULE

    def rules_in_words(self) -> str:
        """The rules as a sentence, e.g. "Department is Sales and Hire date after 2026-01-01"."""
        return rules_in_words(self.rules)

    def people(self) -> PersonQuerySet:
        """The group's members right now."""
        if self.kind == GroupKind.STATIC:
            return Person.objects.filter(static_groups=self)
        return Person.objects.filter(rules_to_q(self.rules))


def count_members(groups: list[Group]) -> dict[int, int]:
    """Members of each group by id: static groups together in one query, rule groups one each."""
    static = [g.pk for g in groups if not g.is_rule_based]
    rows = (
        Group.members.through.objects.filter(group_id__in=static).order_by()
        .values("group_id").annotate(n=models.Count("person_id"))
    ) if static else []
    counts = {row["group_id"]: row["n"] for row in rows}
    for group in groups:
        counts[group.pk] = group.people().count() if group.is_rule_based else counts.get(group.pk, 0)
    return counts


def rules_in_words(rules: list[dict]) -> str:
    """Rule conditions as a sentence a person can check against what they meant."""
    if not rules:
        return "no conditions"
    parts = []
    for rule in rules:
        field, op, value = str(rule.get("field")), str(rule.get("op")), rule.get("value")
        if field == RuleField.MANAGER and op == RuleOp.REPORTS_TO:
            parts.append(f"reports (directly or not) to {value}")
            continue
        name = "Manager" if field == RuleField.MANAGER else dict(RuleField.choices).get(field, field)
        verb = "is one of" if op == RuleOp.IN else dict(RuleOp.choices).get(op, op)
        parts.append(f"{name} {verb} {value}")
    text = " and ".join(parts)
    return text[0].upper() + text[1:]


def rules_to_q(rules: list[dict]) -> Q:
    """Turn validated rule conditions into one database filter (all must hold)."""
    q = Q()
    for rule in rules:
        field, op, value = rule["field"], rule["op"], rule["value"]
        if field == RuleField.MANAGER:
            if op == RuleOp.REPORTS_TO:
                path, cond = "manager", Q()
                for _ in range(8):
                    cond |= Q(**{f"{path}__employee_id": value})
                    path += "__manager"
                q &= cond
            else:
                q &= Q(manager__employee_id=value)
            continue
        if op == RuleOp.IS:
            q &= Q(**{f"{field}__iexact": value})
        elif op == RuleOp.IS_NOT:
            q &= ~Q(**{f"{field}__iexact": value})
        elif op == RuleOp.IN:
            values = [v.strip() for v in str(value).split(",") if v.strip()]
            sub = Q()
            for v in values:
                sub |= Q(**{f"{field}__iexact": v})
            q &= sub
        elif op == RuleOp.CONTAINS:
            q &= Q(**{f"{field}__icontains": value})
        elif op == RuleOp.AFTER:
            q &= Q(**{f"{field}__gt": value})
        elif op == RuleOp.BEFORE:
            q &= Q(**{f"{field}__lt": value})
    return q


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", "Uploaded"
    APPLIED = "applied", "Applied"
    DISCARDED = "discarded", "Discarded"


class PeopleImport(models.Model):
    """An uploaded HR file on its way through mapping, dry-run preview and apply."""

    uploaded_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)
    filename = models.CharField(max_length=255)
    content = models.TextField(help_text="The decoded CSV text")
    # Canonical column -> header in the file.
    mapping = models.JSONField(default=dict, blank=True)
    # A full import marks people missing from the file as leavers; a partial one does not.
    full = models.BooleanField(default=True)
    status = models.CharField(max_length=16, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)
    summary = models.JSONField(default=dict, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-uploaded_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.uploaded_at:%Y-%m-%d %H:%M})"
