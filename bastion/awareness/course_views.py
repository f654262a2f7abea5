"""The security team's course pages: list, write (text or file), versions and preview, publish,
archive; and lesson images (upload, list, serve). Every object comes through access.py."""

from collections import defaultdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from bastion.lib.counting import count_of
from bastion.lib.markdown import render_markdown

from . import access, actions
from .course_forms import COURSE_TEMPLATE, CourseSourceForm, ImageUploadForm
from .models import Assignment, Course, CourseImage, CourseVersion, Question

PER_PAGE = 50


def versions_with_counts(versions):
    """Versions with how many questions they have and how many assignments use them."""
    return versions.annotate(
        questions_count=count_of(Question.objects.filter(version_id=OuterRef("pk")), "version_id"),
        assignments_count=count_of(Assignment.objects.filter(version_id=OuterRef("pk")), "version_id"),
    )


def attach_versions(courses: list[Course]) -> None:
    """Give each course its versions (newest first), its latest published version and its
    draft, all from one query for the whole page."""
    by_course: dict[int, list[CourseVersion]] = defaultdict(list)
    versions = versions_with_counts(CourseVersion.objects.filter(course__in=[c.pk for c in courses]))
    for version in versions.defer("source", "summary").order_by("course_id", "-number"):
        by_course[version.course_id].append(version)
    for course in courses:
        course.version_list = by_course[course.pk]  # type: ignore[attr-defined]
        course.published = next((v for v in course.version_list if v.is_published), None)  # type: ignore[attr-defined]
        course.pending = next((v for v in course.version_list if not v.is_published), None)  # type: ignore[attr-defined]
        course.shown = course.pending or course.published  # type: ignore[attr-defined]


def _preview(version: CourseVersion) -> dict:
    """The version's lessons rendered, and its quiz with the right answers (for authors)."""
    lessons = [{"lesson": lesson, "html": render_markdown(lesson.body)} for lesson in version.lessons.all()]
    questions = version.questions.prefetch_related("choices")
    return {"lessons": lessons, "questions": questions}


@login_required
def course_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    courses = access.courses_visible_to(user)
    show = request.GET.get("show", "active")
    if show not in ("active", "archived", "all"):
        show = "active"
    if show != "all":
        courses = courses.filter(archived=(show == "archived"))
    page = Paginator(courses.order_by("title", "id"), PER_PAGE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    attach_versions(rows)
    return render(request, "awareness/course_list.html", {
        "page_obj": page, "courses": rows, "show": show, "can_edit": access.can_manage_awareness(user),
    })


@login_required
def course_create(request: HttpRequest) -> HttpResponse:
    access.require_manager(request.user)
    form = CourseSourceForm(request.POST or None, request.FILES or None,
                            initial={"source": COURSE_TEMPLATE})
    if request.method == "POST" and form.is_valid():
        publish = bool(form.cleaned_data.get("publish"))
        try:
            course = actions.do_create_course(acting_user=request.user, source=form.cleaned_data["source"],
                                              publish=publish, request=request)
        except actions.CourseStateError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"{course.title} created as version 1"
                                      f"{' and published' if publish else ' (a draft)'}.")
            return redirect(f"/awareness/courses/{course.pk}/")
    return render(request, "awareness/course_form.html", {"form": form, "course": None},
                  status=400 if form.errors else 200)


@login_required
@require_POST
def course_install_starter(request: HttpRequest) -> HttpResponse:
    access.require_manager(request.user)
    installed = actions.install_starter_curriculum(acting_user=request.user)
    if installed:
        messages.success(request, "Added and published: " + ", ".join(c.title for c in installed) + ".")
    else:
        messages.info(request, "The starter curriculum is already here: nothing was added.")
    return redirect("/awareness/courses/")


@login_required
def course_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    course = access.get_course_for_view(user, pk)
    versions = list(versions_with_counts(course.versions.select_related("published_by"))
                    .defer("source").order_by("-number"))
    shown = next((v for v in versions if not v.is_published), None) or (versions[0] if versions else None)
    return render(request, "awareness/course_detail.html", {
        "course": course, "versions": versions, "version": shown,
        "has_draft": any(not v.is_published for v in versions),
        "can_edit": access.can_manage_awareness(user),
        **(_preview(shown) if shown else {}),
    })


@login_required
def course_version(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    course = access.get_course_for_view(request.user, pk)
    version = course.versions.select_related("published_by").filter(number=number).first()
    if version is None:
        raise Http404
    return render(request, "awareness/course_version.html", {
        "course": course, "version": version, **_preview(version),
    })


@login_required
def course_edit(request: HttpRequest, pk: int) -> HttpResponse:
    course = access.get_course_for_edit(request.user, pk)
    draft = course.draft()
    base = draft or course.latest_published()
    form = CourseSourceForm(request.POST or None, request.FILES or None, course=course,
                            initial={"source": base.source if base else ""})
    if request.method == "POST" and form.is_valid():
        try:
            version = actions.do_save_draft(acting_user=request.user, course=course,
                                            source=form.cleaned_data["source"], request=request)
        except actions.CourseStateError as error:
            form.add_error("source", str(error))
        else:
            messages.success(request, f"Draft version {version.number} saved. Publish it when it is ready.")
            return redirect(f"/awareness/courses/{course.pk}/")
    return render(request, "awareness/course_form.html", {
        "form": form, "course": course, "draft": draft, "base": base,
    }, status=400 if form.errors else 200)


@login_required
@require_POST
def course_publish(request: HttpRequest, pk: int) -> HttpResponse:
    course = access.get_course_for_edit(request.user, pk)
    try:
        version = actions.do_publish(acting_user=request.user, course=course, request=request)
    except actions.CourseStateError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Version {version.number} published: new assignments get it; "
                                  "earlier assignments keep their version.")
    return redirect(f"/awareness/courses/{course.pk}/")


@login_required
@require_POST
def course_archive(request: HttpRequest, pk: int) -> HttpResponse:
    course = access.get_course_for_edit(request.user, pk)
    archived = request.POST.get("archived") == "1"
    actions.do_set_course_archived(acting_user=request.user, course=course, archived=archived, request=request)
    messages.success(request, f"{course.title} {'archived: programmes no longer assign it' if archived else 'is back in use'}.")
    return redirect(f"/awareness/courses/{course.pk}/")


# --- images --------------------------------------------------------------------------------


@login_required
def image_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    access.require_viewer(user)
    can_edit = access.can_manage_awareness(user)
    if request.method == "POST":
        access.require_manager(user)  # before the upload is read
    form = ImageUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if form.is_valid():
            image = actions.do_upload_image(acting_user=user, request=request, **form.cleaned_data["image"])
            messages.success(request, f"{image.name} uploaded. Paste its snippet into a lesson.")
            return redirect("/awareness/images/")
    images = CourseImage.objects.defer("data").select_related("uploaded_by").order_by("-uploaded_at", "-id")
    page = Paginator(images, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "awareness/image_list.html", {
        "form": form, "page_obj": page, "can_edit": can_edit,
    }, status=400 if form.errors else 200)


def image_serve(request: HttpRequest, pk: int) -> HttpResponse:
    """An image's bytes, to anyone signed in or holding a learner's session (lessons show it)."""
    if not access.can_fetch_course_image(request):
        raise PermissionDenied
    image = CourseImage.objects.filter(pk=pk).only("content_type", "data").first()
    if image is None:
        raise Http404
    response = HttpResponse(bytes(image.data), content_type=image.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    # An image never changes under its id; private: only for those allowed to see it.
    response["Cache-Control"] = "private, max-age=86400, immutable"
    response["Content-Disposition"] = "inline"
    return response

