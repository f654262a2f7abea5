"""Courses and policies over JSON: the same access helpers, parser and actions as the pages.

Two routers, mounted at /api/v1/courses (``courses_router``) and /api/v1/policies
(``policies_router``).
"""

from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.core.validators import validate_slug
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import ValidationError
from pydantic import ConfigDict

from bastion.people.models import Person

from . import access, actions, policy_actions
from .course_forms import MAX_COURSE_BYTES, format_error
from .course_views import attach_versions
from .curriculum import CourseFormatError, parse_course
from .models import Course, Policy
from .policy_views import with_acknowledgement_counts

courses_router = Router()
policies_router = Router()


class PageParams(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10_000_000)


def _refuse(field: str, message: str, **extra) -> ValidationError:
    """A 422 in the shape ninja uses for a body that does not validate."""
    return ValidationError([{"type": "value_error", "loc": ["body", "payload", field], "msg": message, **extra}])


# --- courses -------------------------------------------------------------------------------


class VersionOut(Schema):
    number: int
    status: str
    title: str
    duration_minutes: int
    pass_mark: int
    questions_count: int
    assignments_count: int
    published_at: datetime | None


class CourseOut(Schema):
    id: int
    slug: str
    title: str
    archived: bool
    created_at: datetime
    published_version: int | None
    draft_version: int | None
    versions: list[VersionOut]

    @staticmethod
    def resolve_versions(obj) -> list:
        return obj.version_list

    @staticmethod
    def resolve_published_version(obj) -> int | None:
        return obj.published.number if obj.published else None

    @staticmethod
    def resolve_draft_version(obj) -> int | None:
        return obj.pending.number if obj.pending else None


class CoursePage(Schema):
    items: list[CourseOut]
    count: int


class CourseCreate(Schema):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="The course as text (the format of bastion/awareness/curriculum.py)")
    publish: bool = Field(False, description="Publish version 1 at once; otherwise it is a draft")


def _course_out(course: Course) -> Course:
    attach_versions([course])
    return course


@courses_router.get("", response=CoursePage, summary="List courses")
def list_courses(request: HttpRequest, page: Query[PageParams], archived: bool | None = None):
    """By title; each with its versions (newest first), questions and assignments per version."""
    courses = access.courses_visible_to(request.user)
    if archived is not None:
        courses = courses.filter(archived=archived)
    rows = list(courses.order_by("title", "id")[page.offset:page.offset + page.limit])
    attach_versions(rows)
    return {"items": rows, "count": courses.count()}


@courses_router.get("/{int:course_id}", response=CourseOut, summary="One course and its versions")
def get_course(request: HttpRequest, course_id: int):
    return _course_out(access.get_course_for_view(request.user, course_id))


@courses_router.post("", response={201: CourseOut}, summary="Create a course from its text")
def create_course(request: HttpRequest, payload: CourseCreate):
    """A format mistake is a 422 whose message and ``line`` name the line to fix."""
    access.require_manager(request.user)
    if len(payload.source.encode()) > MAX_COURSE_BYTES:
        raise _refuse("source", "The course text is larger than 1 MB.")
    try:
        spec = parse_course(payload.source)
    except CourseFormatError as error:
        raise _refuse("source", format_error(error), line=error.line) from None
    if Course.objects.filter(slug=spec.slug).exists():
        raise _refuse("source", f"A course with the slug {spec.slug!r} exists already.")
    try:
        course = actions.do_create_course(acting_user=request.user, source=payload.source,
                                          publish=payload.publish, request=request)
    except actions.CourseStateError as error:
        raise _refuse("source", str(error)) from None
    return Status(201, _course_out(course))


# --- policies ------------------------------------------------------------------------------


class PolicyOut(Schema):
    id: int
    slug: str
    title: str
    current_version: int | None = Field(None, alias="current_number")
    current_published_at: datetime | None
    acknowledged: int = Field(description="Active people who acknowledged the current version")
    active_people: int


class PolicyDetailOut(PolicyOut):
    body: str
    summary_of_changes: str


class PolicyPage(Schema):
    items: list[PolicyOut]
    count: int


class PolicyCreate(Schema):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    slug: str = Field(min_length=1, max_length=80)
    body: str = Field(min_length=1, max_length=200_000, description="Markdown")


def _policy_out(request: HttpRequest, policy_id: int) -> Policy:
    policy = with_acknowledgement_counts(access.policies_visible_to(request.user)).get(pk=policy_id)
    current = policy.versions.order_by("-number").only("body", "summary_of_changes").first()
    policy.body = current.body if current else ""  # type: ignore[attr-defined]
    policy.summary_of_changes = current.summary_of_changes if current else ""  # type: ignore[attr-defined]
    policy.active_people = Person.objects.active().count()  # type: ignore[attr-defined]
    return policy


@policies_router.get("", response=PolicyPage, summary="List policies")
def list_policies(request: HttpRequest, page: Query[PageParams]):
    """By title, with the current version and how many active people acknowledged it."""
    policies = access.policies_visible_to(request.user)
    active = Person.objects.active().count()
    rows = list(with_acknowledgement_counts(policies).order_by("title", "id")[page.offset:page.offset + page.limit])
    for row in rows:
        row.active_people = active  # type: ignore[attr-defined]
    return {"items": rows, "count": policies.count()}


@policies_router.get("/{int:policy_id}", response=PolicyDetailOut, summary="One policy and its current text")
def get_policy(request: HttpRequest, policy_id: int):
    policy = access.get_policy_for_view(request.user, policy_id)
    return _policy_out(request, policy.pk)


@policies_router.post("", response={201: PolicyDetailOut}, summary="Create a policy (its version 1)")
def create_policy(request: HttpRequest, payload: PolicyCreate):
    if not access.can_manage_awareness(request.user):
        raise PermissionDenied
    slug = payload.slug.strip().lower()
    try:
        validate_slug(slug)
    except Exception:
        raise _refuse("slug", "Use letters, digits, hyphens and underscores only.") from None
    if Policy.objects.filter(slug=slug).exists():
        raise _refuse("slug", f"A policy with the slug {slug!r} exists already.")
    if not payload.body.strip() or not payload.title.strip():
        raise _refuse("body", "The policy needs a title and a text.")
    policy = policy_actions.do_create_policy(acting_user=request.user, title=payload.title.strip(), slug=slug,
                                             body=payload.body, request=request)
    return Status(201, _policy_out(request, policy.pk))
