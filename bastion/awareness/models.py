"""The awareness programme: versioned courses, policies to acknowledge, programmes that assign
courses by rule, and each person's assignments with what happened to them.

A published course version never changes: editing a published course starts a new draft
version, and an assignment keeps the version it was given. Every reminder, escalation,
consequence and incentive is an ``AssignmentEvent`` row, claimed under a unique constraint so a
job run twice records (and emails) it once.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class Course(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200, help_text="The title of the latest version, for lists")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    archived = models.BooleanField(default=False, help_text="Archived courses are not assigned any more")

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title

    def latest_published(self) -> "CourseVersion | None":
        return self.versions.filter(status=VersionStatus.PUBLISHED).order_by("-number").first()

    def draft(self) -> "CourseVersion | None":
        return self.versions.filter(status=VersionStatus.DRAFT).first()


class CourseVersion(models.Model):
    """One version of a course: its lessons, questions and pass mark. Published = frozen."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(help_text="1, 2, 3… in the order they were started")
    status = models.CharField(max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    duration_minutes = models.PositiveIntegerField(default=15, validators=[MinValueValidator(1),
                                                                           MaxValueValidator(600)])
    pass_mark = models.PositiveSmallIntegerField(
        default=80, validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="The share of questions to answer right to pass, in percent")
    max_attempts = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Blank for as many tries as the learner needs")
    shuffle = models.BooleanField(default=True, help_text="Questions and choices in a new order on each try")
    source = models.TextField(help_text="The course as text (see awareness/curriculum.py); lessons and "
                                        "questions are built from it")
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["course", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["course", "number"], name="course_version_number_unique"),
            models.UniqueConstraint(fields=["course"], condition=Q(status="draft"), name="course_one_draft"),
        ]

    def __str__(self) -> str:
        return f"{self.title} (version {self.number})"

    @property
    def is_published(self) -> bool:
        return self.status == VersionStatus.PUBLISHED


class Lesson(models.Model):
    version = models.ForeignKey(CourseVersion, on_delete=models.CASCADE, related_name="lessons")
    position = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField(help_text="Markdown")

    class Meta:
        ordering = ["version", "position"]
        constraints = [models.UniqueConstraint(fields=["version", "position"], name="lesson_position_unique")]

    def __str__(self) -> str:
        return self.title


class Question(models.Model):
    version = models.ForeignKey(CourseVersion, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField()
    text = models.TextField()
    multiple = models.BooleanField(default=False, help_text="Several choices may be right")
    explanation = models.TextField(blank=True, help_text="Shown after answering")

    class Meta:
        ordering = ["version", "position"]
        constraints = [models.UniqueConstraint(fields=["version", "position"], name="question_position_unique")]

    def __str__(self) -> str:
        return self.text[:80]


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=500)
    correct = models.BooleanField(default=False)

    class Meta:
        ordering = ["question", "position"]
        constraints = [models.UniqueConstraint(fields=["question", "position"], name="choice_position_unique")]

    def __str__(self) -> str:
        return self.text


class CourseImage(models.Model):
    """An image for lessons, kept in the database (so a backup holds everything) and served at
    /awareness/images/<id>/ to whoever may see courses."""

    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=32)
    data = models.BinaryField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    uploaded_at = models.DateTimeField(default=timezone.now)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return self.name


# --- policies ---------------------------------------------------------------------------

class Policy(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title", "id"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.title

    def current_version(self) -> "PolicyVersion | None":
        return self.versions.order_by("-number").first()


class PolicyVersion(models.Model):
    """A published text of a policy. A new version asks everyone to acknowledge again."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    body = models.TextField(help_text="Markdown")
    summary_of_changes = models.TextField(blank=True)
    published_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")

    class Meta:
        ordering = ["policy", "-number"]
        constraints = [models.UniqueConstraint(fields=["policy", "number"], name="policy_version_unique")]

    def __str__(self) -> str:
        return f"{self.policy} (version {self.number})"


class Acknowledgement(models.Model):
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="acknowledgements")
    version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="acknowledgements")
    acknowledged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-acknowledged_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["person", "version"], name="acknowledgement_once")]


class PolicyAsk(models.Model):
    """A person asked by email to read and acknowledge a policy version, and when; once per
    stage (the ask, then one reminder), claimed under a unique constraint."""

    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="policy_asks")
    version = models.ForeignKey(PolicyVersion, on_delete=models.CASCADE, related_name="asks")
    stage = models.CharField(max_length=16, default="ask", help_text="'ask', then 'reminder'")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["person", "version", "stage"], name="policy_ask_once")]


# --- programmes and assignments ---------------------------------------------------------

def default_reminder_days() -> list[int]:
    return [-7, 0, 3]


class Programme(models.Model):
    """Who is assigned which course, when, and what follows from being late or on time."""

    name = models.CharField(max_length=200, unique=True)
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="programmes")
    audience = models.ForeignKey("people.Group", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="programmes", help_text="Blank for everyone in the directory")
    active = models.BooleanField(default=True)
    starts_on = models.DateField(default=timezone.localdate,
                                 help_text="People hired from this day are assigned on hire")
    # Triggers
    on_hire = models.BooleanField(default=True)
    hire_due_days = models.PositiveSmallIntegerField(default=14, validators=[MaxValueValidator(365)])
    recurring_months = models.PositiveSmallIntegerField(
        null=True, blank=True, default=12, validators=[MinValueValidator(1), MaxValueValidator(120)],
        help_text="Assign again this many months after the last completion; blank for once only")
    on_change = models.BooleanField(default=False, help_text="Assign again when department or title changes")
    remedial = models.BooleanField(default=False, help_text="Other capabilities (phishing) may assign it")
    due_days = models.PositiveSmallIntegerField(default=30, validators=[MinValueValidator(1),
                                                                        MaxValueValidator(365)])
    # Follow-up
    reminder_days = models.JSONField(default=default_reminder_days,
                                     help_text="Days relative to the due date (negative = before)")
    escalate_after_days = models.PositiveSmallIntegerField(null=True, blank=True, default=7)
    consequence_after_days = models.PositiveSmallIntegerField(null=True, blank=True, default=30)
    consequence_notify = models.EmailField(blank=True, help_text="The HR contact told of a consequence")
    incentive_points = models.PositiveSmallIntegerField(default=10)
    incentive_recognition = models.BooleanField(default=True, help_text="A thank-you email on time")
    incentive_prize_draw = models.BooleanField(default=False, help_text="An entry in the prize draw on time")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class ProgrammeChange(models.Model):
    """A change to a programme's rules, with its date and reason, so that results before and
    after can be compared."""

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="changes")
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    field = models.CharField(max_length=64)
    before = models.JSONField(null=True)
    after = models.JSONField(null=True)
    reason = models.TextField()

    class Meta:
        ordering = ["-changed_at", "-id"]


class AssignmentReason(models.TextChoices):
    INITIAL = "initial", "Programme start"
    HIRE = "hire", "New hire"
    RECURRING = "recurring", "Recurring"
    CHANGE = "change", "Change of department or title"
    REMEDIAL = "remedial", "Remedial"
    MANUAL = "manual", "Assigned by the security team"


class AssignmentStatus(models.TextChoices):
    ASSIGNED = "assigned", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed (no tries left)"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATUSES = (AssignmentStatus.ASSIGNED, AssignmentStatus.IN_PROGRESS)


class Assignment(models.Model):
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="assignments")
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="assignments")
    version = models.ForeignKey(CourseVersion, on_delete=models.PROTECT, related_name="assignments")
    reason = models.CharField(max_length=16, choices=AssignmentReason.choices)
    # What makes this assignment unique for the person and programme ("hire", "recurring:2027-03-01", …).
    cycle_key = models.CharField(max_length=80)
    status = models.CharField(max_length=16, choices=AssignmentStatus.choices, default=AssignmentStatus.ASSIGNED)
    assigned_at = models.DateTimeField(default=timezone.now)
    due_on = models.DateField()
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    on_time = models.BooleanField(null=True, help_text="Completed by the end of the due day (set on completion)")
    cancelled_reason = models.CharField(max_length=200, blank=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Best score, in percent")
    attempts_used = models.PositiveSmallIntegerField(default=0)
    lessons_done = models.JSONField(default=list, help_text="Ids of the lessons the learner has finished")
    # The person's department and title when assigned: a change triggers the on-change rule.
    department = models.CharField(max_length=100, blank=True)
    title = models.CharField(max_length=150, blank=True)
    # Whether this is the person's latest assignment of the programme (progress counts these).
    current = models.BooleanField(default=True)
    # When anything progress counts last changed (status, current): progress caches by its maximum.
    changed_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["person", "programme", "cycle_key"], name="assignment_once_per_cycle"),
        ]
        indexes = [
            models.Index(fields=["status", "due_on"]),
            models.Index(fields=["programme", "current", "status"]),
            models.Index(fields=["person", "programme", "current"]),
            # A programme's recent completions (the follow-up run's incentives).
            models.Index(fields=["programme", "status", "completed_at"]),
            # The people list (current ones by due date) and the API's order and deep offsets.
            models.Index(fields=["current", "due_on", "id"]),
            models.Index(fields=["due_on", "id"]),
            # Open ones by due date (API ?status=open / ?overdue=true) without walking old completions.
            models.Index(fields=["due_on", "id"], condition=Q(status__in=["assigned", "in_progress"]),
                         name="assignment_open_due"),
        ]

    def __str__(self) -> str:
        return f"{self.version.title} for {self.person}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def mark_started(self, now) -> list[str]:
        """Note that the learner has begun (not saved); returns the fields that changed."""
        fields = []
        if self.started_at is None:
            self.started_at = now
            fields.append("started_at")
        if self.status == AssignmentStatus.ASSIGNED:
            self.status = AssignmentStatus.IN_PROGRESS
            self.changed_at = now
            fields += ["status", "changed_at"]
        return fields

    def complete(self, *, score: int, now) -> None:
        """Mark completed (not saved): the one place completion and "on time" are decided."""
        self.status = AssignmentStatus.COMPLETED
        self.completed_at = now
        self.on_time = timezone.localdate(now) <= self.due_on
        self.score = max(score, self.score or 0)
        self.changed_at = now

    def days_overdue(self, today=None) -> int:
        today = today or timezone.localdate()
        return max((today - self.due_on).days, 0) if self.is_open else 0


class Attempt(models.Model):
    """One try at the course's knowledge check."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    # Question ids, and for each the choice ids, in the order this try shows them.
    order = models.JSONField(default=dict)
    answers = models.JSONField(default=dict, help_text="question id → chosen choice ids")
    started_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    passed = models.BooleanField(null=True)

    class Meta:
        ordering = ["assignment", "number"]
        constraints = [models.UniqueConstraint(fields=["assignment", "number"], name="attempt_number_unique")]


class EventKind(models.TextChoices):
    ASSIGNED = "assigned", "Assigned"
    REMINDER = "reminder", "Reminder"
    ESCALATION = "escalation", "Escalation to the manager"
    CONSEQUENCE = "consequence", "Consequence"
    INCENTIVE = "incentive", "Incentive"
    CANCELLED = "cancelled", "Cancelled"


class AssignmentEvent(models.Model):
    """Something that happened to an assignment because of a rule; once per kind and stage."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    stage = models.CharField(max_length=40, help_text="Which one of its kind, e.g. 'due-7', 'overdue-30'")
    at = models.DateTimeField(default=timezone.now)
    detail = models.JSONField(default=dict)
    points = models.PositiveIntegerField(default=0, help_text="Points an incentive earned")
    waived_at = models.DateTimeField(null=True, blank=True)
    waived_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    waive_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["assignment", "kind", "stage"], name="assignment_event_once")]
        indexes = [models.Index(fields=["kind", "at"])]
