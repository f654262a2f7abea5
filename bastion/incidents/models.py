"""Incidents run by the plan: the incident, its checklist, deviations, notifications due and its
append-only, hash-chained timeline.

An incident is bound to the plan version in force when it was declared: its type, severity
levels, playbook and notification rules are read from that version's content for its whole life.
No plan in force means no incident can be declared (actions.do_declare says so): without a plan
there are no types, severities, playbook or rules to run it by; the lead installs the starter
plan and has it approved first.

Facts and clocks use the evaluator's vocabulary (response/content.py FACTS and CLOCKS). Some
come from the incident's own fields and are never stored in ``facts`` / ``clocks``:
severity, incident_type, regulated_data (``data_involved``) and system_tier (the most critical
affected system's effective tier, recorded when the systems change), and the detection and
declaration clocks (``detected_at``, ``declared_at``).
"""

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from bastion.response.content import CLOCKS

GENESIS_HASH = "0" * 64

# Facts and clocks the incident's own fields supply (see the module docstring).
DERIVED_FACTS = ("severity", "incident_type", "regulated_data", "system_tier")
DERIVED_CLOCKS = ("detection", "declaration")


class Status(models.TextChoices):
    DETECTION = "detection", "Detection"
    TRIAGE = "triage", "Triage"
    CONTAINMENT = "containment", "Containment"
    ERADICATION = "eradication", "Eradication"
    RECOVERY = "recovery", "Recovery"
    CLOSED = "closed", "Closed"


class LawEnforcementDecision(models.TextChoices):
    REPORTED = "reported", "Reported to law enforcement"
    NOT_REPORTED = "not_reported", "Considered and not reported"


class IncidentQuerySet(models.QuerySet["Incident"]):
    def open(self) -> "IncidentQuerySet":
        return self.exclude(status=Status.CLOSED)


class Incident(models.Model):
    """One incident, declared under the plan version in force, moving through the statuses of
    TRANSITIONS."""

    # Which status may follow which. Detection and triage may close at once (a false positive:
    # not an incident after all); containment may be re-entered from eradication or recovery
    # when the attacker is found back in. A closed incident stays closed.
    TRANSITIONS = {
        Status.DETECTION: {Status.TRIAGE, Status.CLOSED},
        Status.TRIAGE: {Status.CONTAINMENT, Status.CLOSED},
        Status.CONTAINMENT: {Status.ERADICATION},
        Status.ERADICATION: {Status.RECOVERY, Status.CONTAINMENT},
        Status.RECOVERY: {Status.CLOSED, Status.CONTAINMENT},
        Status.CLOSED: set(),
    }

    title = models.CharField(max_length=200)
    summary = models.TextField(help_text="What is known")
    detected_at = models.DateTimeField()
    reported_by = models.CharField(max_length=200, help_text="Who or what reported it (a person, a SIEM rule)")
    declared_at = models.DateTimeField(default=timezone.now)
    declared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                    related_name="+")
    plan_version = models.ForeignKey("response.PlanVersion", on_delete=models.PROTECT, related_name="incidents")
    type_key = models.CharField(max_length=64)
    affected_systems = models.ManyToManyField("systems.BusinessSystem", blank=True, related_name="incidents")
    system_tier = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Effective tier of the most critical affected system when last recorded")
    data_involved = models.JSONField(default=list, blank=True, help_text="Kinds of regulated data (content.py)")
    facts = models.JSONField(default=dict, blank=True)
    clocks = models.JSONField(default=dict, blank=True, help_text="Clock name → ISO 8601 time (UTC)")
    severity = models.CharField(max_length=64)
    suggested_severity = models.CharField(max_length=64)
    severity_reason = models.TextField(blank=True, help_text="Why the severity differs from the suggestion")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DETECTION, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    incident_commander = models.ForeignKey("people.Person", null=True, blank=True, on_delete=models.PROTECT,
                                           related_name="+")
    scribe = models.ForeignKey("people.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    liaison = models.ForeignKey("people.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    legal = models.ForeignKey("people.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    restricted = models.BooleanField(default=False, help_text="Need to know: only members (and the declarer) see it")
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="incident_memberships")
    # The law-enforcement decision, required before closing when the plan's criteria are met.
    law_enforcement_decision = models.CharField(max_length=16, choices=LawEnforcementDecision.choices, blank=True)
    law_enforcement_rationale = models.TextField(blank=True)
    law_enforcement_contact = models.CharField(max_length=300, blank=True)
    law_enforcement_decided_by = models.ForeignKey("people.Person", null=True, blank=True,
                                                   on_delete=models.PROTECT, related_name="+")
    law_enforcement_decided_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-declared_at", "-id"]
        indexes = [models.Index(fields=["restricted", "-declared_at", "-id"])]

    def __str__(self) -> str:
        return f"INC-{self.pk}: {self.title}"

    @property
    def reference(self) -> str:
        return f"INC-{self.pk}"

    # --- status -------------------------------------------------------------------------

    def can_move_to(self, status: str) -> bool:
        return status in self.TRANSITIONS[Status(self.status)]

    def move_to(self, status: str, now: datetime) -> None:
        """Change status (not saved), refusing a move the map does not allow."""
        if status not in Status.values:
            raise ValidationError(f"Unknown status {status!r} (the statuses are: {', '.join(Status.values)}).")
        if not self.can_move_to(status):
            allowed = ", ".join(sorted(self.TRANSITIONS[Status(self.status)])) or "none: it is closed"
            raise ValidationError(f"An incident in {self.get_status_display().lower()} cannot move to "
                                  f"{Status(status).label.lower()} (allowed next: {allowed}).")
        self.status = status
        self.closed_at = now if status == Status.CLOSED else None

    # --- the plan's content, facts and clocks -------------------------------------------

    @property
    def content(self) -> dict:
        return self.plan_version.content

    def incident_type(self) -> dict:
        return next((t for t in self.content.get("incident_types", []) if t["key"] == self.type_key), {})

    def evaluator_facts(self) -> dict[str, Any]:
        """The facts the evaluator reads: those stored, plus those the incident's fields supply."""
        return {**self.facts, "severity": self.severity, "incident_type": self.type_key,
                "regulated_data": list(self.data_involved) or None, "system_tier": self.system_tier}

    def clock_times(self) -> dict[str, datetime | None]:
        times: dict[str, datetime | None] = {name: parse_time(value) for name, value in self.clocks.items()}
        times["detection"] = self.detected_at
        times["declaration"] = self.declared_at
        return times

    def recorded_clocks(self) -> list[tuple[str, str, datetime | None]]:
        """The clocks recorded by hand (name, what it marks, when), in the vocabulary's order."""
        return [(name, CLOCKS.get(name, name), parse_time(self.clocks[name]))
                for name in [*[c for c in CLOCKS if c in self.clocks], *[c for c in self.clocks if c not in CLOCKS]]]

    def law_enforcement_required(self) -> bool:
        """The plan's law-enforcement criteria are met: a crime is suspected or a ransom demanded
        (the plan's law-enforcement guidance), or a rule keyed "law-enforcement" applies."""
        if self.facts.get("criminal_activity_suspected") or self.facts.get("ransom_demanded"):
            return True
        return self.notifications.filter(rule_key="law-enforcement").exclude(
            status=NotificationStatus.NOT_REQUIRED, not_required_by__isnull=True).exists()


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def time_text(value: datetime) -> str:
    """A time as stored in JSON and hashed: UTC, ISO 8601 with microseconds."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


class StepState(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"
    DONE_DIFFERENTLY = "done_differently", "Done differently"


class ChecklistStep(models.Model):
    """A step of the incident type's playbook, copied from the plan version at declaration."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="steps")
    step_key = models.CharField(max_length=64)
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    owner_role = models.CharField(max_length=64, blank=True)
    order = models.PositiveSmallIntegerField()
    required = models.BooleanField(default=True)
    state = models.CharField(max_length=20, choices=StepState.choices, default=StepState.PENDING)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["incident", "order"]
        constraints = [models.UniqueConstraint(fields=["incident", "step_key"], name="incident_step_unique")]

    def __str__(self) -> str:
        return f"{self.order}. {self.title}"


class DeviationKind(models.TextChoices):
    SKIPPED = "skipped", "Skipped"
    DONE_DIFFERENTLY = "done_differently", "Done differently"
    OUT_OF_ORDER = "out_of_order", "Done out of order"


# A full explanation: why the plan was not appropriate, what was done instead, the risk accepted.
MIN_EXPLANATION_LENGTH = 40


class Deviation(models.Model):
    """A departure from the playbook, with its full explanation, who decided it and when."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="deviations")
    step = models.ForeignKey(ChecklistStep, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="deviations")
    kind = models.CharField(max_length=20, choices=DeviationKind.choices)
    explanation = models.TextField()
    decided_by = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                    related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-recorded_at", "-id"]


class NotificationStatus(models.TextChoices):
    DUE = "due", "Due"
    PENDING = "pending", "Pending (its clock has not started)"
    ESCALATED = "escalated", "Overdue, escalated"
    DONE = "done", "Done"
    NOT_REQUIRED = "not_required", "Not required"


OPEN_NOTIFICATION_STATUSES = (NotificationStatus.DUE, NotificationStatus.PENDING, NotificationStatus.ESCALATED)


class NotificationDue(models.Model):
    """A recipient the plan's rules say must be told, by when, and what was done about it.

    Kept in step with the evaluator by actions._sync_notifications: a row recorded as done or not
    required by someone is never changed by a re-evaluation; an open row whose rule stops
    applying becomes "not required" automatically (``not_required_by`` empty) and re-opens if it
    applies again."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="notifications")
    rule_key = models.CharField(max_length=64)
    rule_name = models.CharField(max_length=300)
    recipient_key = models.CharField(max_length=255, help_text="role:<key>, person:<id> or external:<name>")
    recipient_label = models.CharField(max_length=300)
    recipient = models.JSONField(default=dict)
    deadline = models.DateTimeField(null=True, blank=True, db_index=True)
    reason = models.TextField(blank=True)
    channel = models.CharField(max_length=32, blank=True)
    message = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.DUE)
    created_at = models.DateTimeField(default=timezone.now)
    # Done: who notified whom, when, how and what they were told.
    notified_by = models.ForeignKey("people.Person", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    notified_whom = models.CharField(max_length=300, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    notified_channel = models.CharField(max_length=32, blank=True)
    what_was_said = models.TextField(blank=True)
    # Sent by Bastion (notices.do_send_notification): the addresses the email went to.
    emailed_to = models.JSONField(default=list, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    # Not required: why (and who said so; empty when the rule stopped applying).
    not_required_reason = models.TextField(blank=True)
    not_required_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="+")
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = [models.F("deadline").asc(nulls_last=True), "id"]
        constraints = [models.UniqueConstraint(fields=["incident", "rule_key", "recipient_key"],
                                               name="incident_notification_unique")]
        indexes = [models.Index(fields=["status", "deadline"])]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_NOTIFICATION_STATUSES


class EntryKind(models.TextChoices):
    NOTE = "note", "Note"
    EVIDENCE = "evidence", "Evidence"
    DECLARED = "declared", "Declared"
    STATUS = "status", "Status"
    SEVERITY = "severity", "Severity"
    FACTS = "facts", "Facts"
    STEP = "step", "Checklist"
    DEVIATION = "deviation", "Deviation"
    NOTIFICATION = "notification", "Notification"
    LAW_ENFORCEMENT = "law_enforcement", "Law enforcement"
    UPDATE = "update", "Status update"
    REVIEW = "review", "Post-incident review"
    TEAM = "team", "Team"


# Evidence bytes are stored in the database (TimelineEntry.evidence), so a backup holds them with
# the hash that proves them; the limit keeps a row to what a database handles comfortably.
MAX_EVIDENCE_BYTES = 10 * 1024 * 1024


class TimelineEntry(models.Model):
    """One entry of an incident's timeline: append-only, hash-chained per incident.

    Nothing in Bastion updates or deletes an entry (there is no code path for it; the admin is
    not registered), and the database refuses to (audit/guard.py, migration 0003);
    ``incidents.timeline.verify`` recomputes the chain and names the first
    altered, missing or re-linked entry, and checks each evidence file against its SHA-256."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="timeline")
    seq = models.PositiveIntegerField()
    event_at = models.DateTimeField(help_text="When it happened")
    recorded_at = models.DateTimeField(help_text="When it was written down")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                               db_constraint=False, related_name="+")
    author_label = models.CharField(max_length=300)
    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    text = models.TextField()
    evidence_name = models.CharField(max_length=255, blank=True)
    evidence_sha256 = models.CharField(max_length=64, blank=True)
    evidence_size = models.PositiveBigIntegerField(null=True, blank=True)
    evidence = models.BinaryField(null=True, blank=True, editable=False)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["incident", "seq"]
        constraints = [models.UniqueConstraint(fields=["incident", "seq"], name="incident_timeline_seq_unique")]

    def payload(self) -> dict[str, Any]:
        """The fields the hash covers (evidence through its SHA-256)."""
        return {
            "incident": self.incident_id, "seq": self.seq,
            "event_at": time_text(self.event_at), "recorded_at": time_text(self.recorded_at),
            "author_id": self.author_id, "author_label": self.author_label, "kind": self.kind,
            "text": self.text, "evidence_name": self.evidence_name, "evidence_sha256": self.evidence_sha256,
            "evidence_size": self.evidence_size,
        }

    def compute_hash(self) -> str:
        data = self.prev_hash + json.dumps(self.payload(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(data.encode()).hexdigest()


# --- status updates ---------------------------------------------------------------------------

class Confidence(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class Audience(models.TextChoices):
    EXECUTIVES = "executives", "Executives"
    ALL_STAFF = "all_staff", "All staff"
    CUSTOMERS = "customers", "A customer list"


class SentUpdateError(Exception):
    """A sent status update was about to be changed: a correction is a new update."""


class StatusUpdate(models.Model):
    """A status update as sent, in one honest structure. Never edited once sent (there is no
    code path for it, and ``save`` refuses an existing row); a correction is a new update whose
    ``corrects`` points at the one it corrects."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="updates")
    number = models.PositiveIntegerField(help_text="1, 2, … per incident")
    what_happened = models.TextField()
    containment = models.TextField(help_text="What is being done to contain it")
    impact = models.TextField(help_text="How bad it looks")
    confidence = models.CharField(max_length=8, choices=Confidence.choices)
    unknowns = models.TextField(help_text="What is not known yet")
    next_update_at = models.DateTimeField(null=True, blank=True,
                                          help_text="When the next update comes (none after a final update)")
    final = models.BooleanField(default=False, help_text="The last update: the incident is resolved, none follows")
    audiences = models.JSONField(default=list, help_text="Audience kinds (Audience)")
    customer_addresses = models.JSONField(default=list, blank=True)
    recipient_count = models.PositiveIntegerField(default=0)
    corrects = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="corrections")
    sent_at = models.DateTimeField()
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["incident", "number"]
        constraints = [models.UniqueConstraint(fields=["incident", "number"], name="incident_update_number_unique")]
        indexes = [models.Index(fields=["incident", "-number"])]

    def __str__(self) -> str:
        return f"Update {self.number} on {self.incident.reference}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A guard, not domain logic: a sent update is a record of what people were told.
        if not self._state.adding:
            raise SentUpdateError("A sent status update cannot be changed; send a correction instead.")
        super().save(*args, **kwargs)


class UpdateReminder(models.Model):
    """The claim that the commander was reminded of the update due at ``due_at``: one per due time."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="update_reminders")
    due_at = models.DateTimeField()
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["incident", "due_at"], name="incident_update_reminder_once")]


# --- post-incident review ---------------------------------------------------------------------

class PostIncidentReview(models.Model):
    """What was learnt: root cause, what worked and what did not, the deviations reviewed and
    whether the plan should change, with action items. Closing the incident requires it
    completed, or waived by the security lead with a reason (who, when, why)."""

    incident = models.OneToOneField(Incident, on_delete=models.PROTECT, related_name="review")
    root_cause = models.TextField(blank=True)
    what_worked = models.TextField(blank=True)
    what_did_not = models.TextField(blank=True)
    plan_should_change = models.BooleanField(null=True, help_text="After reviewing the deviations")
    plan_changes = models.TextField(blank=True, help_text="What should change in the plan")
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    waived_at = models.DateTimeField(null=True, blank=True)
    waived_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    waiver_reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    @property
    def allows_closing(self) -> bool:
        return self.completed_at is not None or self.waived_at is not None


class ActionItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"


class ActionItem(models.Model):
    """Something to do after the incident, with its owner and due date; reminded once per due date."""

    review = models.ForeignKey(PostIncidentReview, on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=300)
    owner = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    due_date = models.DateField()
    status = models.CharField(max_length=8, choices=ActionItemStatus.choices, default=ActionItemStatus.OPEN)
    done_at = models.DateTimeField(null=True, blank=True)
    reminded_for = models.DateField(null=True, blank=True, help_text="The due date last reminded of")

    class Meta:
        ordering = ["due_date", "id"]
        indexes = [models.Index(fields=["status", "due_date"])]
