"""Writes of the awareness programme that touch several tables: each in one transaction with its
audit entry. Validation (parsing a course's text, a programme's form) happens before, in the
caller."""

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from bastion.audit.chain import record

from .curriculum import CURRICULUM_DIR, CourseSpec, parse_course
from .models import Choice, Course, CourseImage, CourseVersion, Lesson, Question, VersionStatus


class CourseStateError(ValueError):
    """The course is not in a state that allows this (e.g. publishing a published version)."""


def _fill_version(version: CourseVersion, spec: CourseSpec) -> None:
    """Set the version's fields from the spec and (re)build its lessons and questions."""
    version.title, version.summary = spec.title, spec.summary
    version.duration_minutes, version.pass_mark = spec.duration_minutes, spec.pass_mark
    version.max_attempts, version.shuffle = spec.max_attempts, spec.shuffle
    version.save()
    version.lessons.all().delete()
    version.questions.all().delete()
    Lesson.objects.bulk_create([Lesson(version=version, position=i, title=lesson.title, body=lesson.body_markdown)
                                for i, lesson in enumerate(spec.lessons, start=1)])
    questions = Question.objects.bulk_create([
        Question(version=version, position=i, text=q.text, multiple=q.multiple, explanation=q.explanation)
        for i, q in enumerate(spec.questions, start=1)])
    Choice.objects.bulk_create([
        Choice(question=question, position=j, text=choice.text, correct=choice.correct)
        for question, q in zip(questions, spec.questions, strict=True)
        for j, choice in enumerate(q.choices, start=1)])


def _summary(version: CourseVersion, spec: CourseSpec) -> dict:
    return {"slug": spec.slug, "title": spec.title, "version": version.number, "lessons": len(spec.lessons),
            "questions": len(spec.questions), "pass_mark": spec.pass_mark}


@transaction.atomic
def do_create_course(*, acting_user, source: str, publish: bool = False, request=None) -> Course:
    """A new course from its text (already checked with ``parse_course``): version 1, a draft
    unless ``publish``."""
    spec = parse_course(source)
    course = Course.objects.create(slug=spec.slug, title=spec.title, created_by=acting_user)
    version = CourseVersion(course=course, number=1, source=source)
    _fill_version(version, spec)
    record("course.created", actor=acting_user, obj=course, request=request, after=_summary(version, spec))
    if publish:
        _publish(version, acting_user, request)
    return course


@transaction.atomic
def do_save_draft(*, acting_user, course: Course, source: str, request=None) -> CourseVersion:
    """Save the course's draft from its text; editing a published course starts a new version
    (assignments keep the version they were given). The slug cannot change."""
    spec = parse_course(source)
    course = Course.objects.select_for_update().get(pk=course.pk)
    if spec.slug != course.slug:
        raise CourseStateError(f"The slug is {course.slug}; a course keeps its slug across versions.")
    version = course.draft()
    if version is None:
        number = (course.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = CourseVersion(course=course, number=number)
    version.source = source
    _fill_version(version, spec)
    record("course.draft_saved", actor=acting_user, obj=course, request=request, after=_summary(version, spec))
    return version


@transaction.atomic
def do_publish(*, acting_user, course: Course, request=None) -> CourseVersion:
    course = Course.objects.select_for_update().get(pk=course.pk)
    version = course.draft()
    if version is None:
        raise CourseStateError("There is no draft to publish: edit the course first.")
    _publish(version, acting_user, request)
    return version


def _publish(version: CourseVersion, acting_user, request) -> None:
    # The parser already refuses a course without questions; a draft's rows are checked again.
    if not version.questions.exists():
        raise CourseStateError("A course needs questions before it can be published with a pass mark.")
    version.status = VersionStatus.PUBLISHED
    version.published_at = timezone.now()
    version.published_by = acting_user
    version.save(update_fields=["status", "published_at", "published_by"])
    Course.objects.filter(pk=version.course_id).update(title=version.title)
    record("course.published", actor=acting_user, obj=version.course, request=request,
           after={"version": version.number, "title": version.title})


@transaction.atomic
def install_starter_curriculum(*, acting_user=None) -> list[Course]:
    """The four starter courses, published; a course whose slug exists already is left alone."""
    installed = []
    existing = set(Course.objects.values_list("slug", flat=True))
    for path in sorted(CURRICULUM_DIR.glob("*.md")):
        source = path.read_text(encoding="utf-8")
        if parse_course(source).slug not in existing:
            installed.append(do_create_course(acting_user=acting_user, source=source, publish=True))
    return installed


# --- course pages: archiving and images -----------------------------------------------------


@transaction.atomic
def do_set_course_archived(*, acting_user, course: Course, archived: bool, request=None) -> Course:
    """Archive a course (programmes stop assigning it) or bring it back."""
    course = Course.objects.select_for_update().get(pk=course.pk)
    if course.archived != archived:
        course.archived = archived
        course.save(update_fields=["archived"])
        record("course.archived" if archived else "course.unarchived", actor=acting_user, obj=course,
               request=request, before={"archived": not archived}, after={"archived": archived})
    return course


@transaction.atomic
def do_upload_image(*, acting_user, name: str, content_type: str, data: bytes, width: int, height: int,
                    request=None) -> CourseImage:
    """Store an image for lessons (already checked by opening it, in the form)."""
    image = CourseImage.objects.create(name=name[:200], content_type=content_type, data=data, width=width,
                                       height=height, uploaded_by=acting_user)
    record("course_image.uploaded", actor=acting_user, obj=image, request=request,
           after={"name": image.name, "content_type": content_type, "bytes": len(data),
                  "width": width, "height": height})
    return image
