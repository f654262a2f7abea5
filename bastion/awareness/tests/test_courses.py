"""The security team's course authoring: text and files, versions, publishing, the starter
curriculum, lesson images, and who may do what on the pages and in the API."""

import io
import re

import pytest
from PIL import Image

from bastion.accounts.models import Role
from bastion.audit.models import AuditEntry
from bastion.awareness.actions import do_create_course, do_publish, do_save_draft
from bastion.awareness.links import training_link_path
from bastion.awareness.models import Course, CourseImage, CourseVersion, Lesson, VersionStatus
from bastion.people.models import Person
from conftest import ALL_ROLES

WRITERS = {Role.SECURITY_LEAD, Role.SECURITY_TEAM}
READERS = WRITERS | {Role.AUDITOR}
JSON = "application/json"


def course_text(slug="password-basics", title="Password basics", lesson="Use a **password manager**.",
                quiz=True) -> str:
    text = f"""---
slug: {slug}
title: {title}
summary: Good passwords in five minutes.
duration_minutes: 5
pass_mark: 50
---

# Lesson: Why it matters
{lesson}

"""
    if quiz:
        text += """# Quiz

## Question (single)
Where do you keep passwords?
- [x] In the password manager
- [ ] On a sticky note
> The manager encrypts them.
"""
    return text


def png_bytes(size=(4, 3), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


def upload(name: str, data: bytes) -> io.BytesIO:
    file = io.BytesIO(data)
    file.name = name
    return file


@pytest.fixture
def course(lead):
    return do_create_course(acting_user=lead, source=course_text(), publish=True)


# --- writing a course ----------------------------------------------------------------------


def test_new_course_page_shows_a_template_of_the_format(client_for, lead):
    page = client_for(lead).get("/awareness/courses/new/").content.decode()
    assert "# Lesson:" in page and "## Question (single)" in page and "slug: my-new-course" in page


def test_create_from_text_then_publish_makes_a_frozen_version_1(client_for, lead):
    client = client_for(lead)
    response = client.post("/awareness/courses/new/", {"source": course_text()})
    course = Course.objects.get(slug="password-basics")
    assert response.status_code == 302 and response["Location"] == f"/awareness/courses/{course.pk}/"
    version = course.versions.get()
    assert version.number == 1 and version.status == VersionStatus.DRAFT
    assert "Draft" in client.get(f"/awareness/courses/{course.pk}/").content.decode()

    response = client.post(f"/awareness/courses/{course.pk}/publish/")
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.is_published and version.published_by == lead and version.published_at is not None
    page = client.get(f"/awareness/courses/{course.pk}/").content.decode()
    assert "Published" in page and "Publish the draft" not in page
    assert AuditEntry.objects.filter(action="course.published").count() == 1


def test_create_from_an_uploaded_file(client_for, lead):
    response = client_for(lead).post("/awareness/courses/new/", {
        "source": "", "file": upload("course.md", course_text().encode()), "publish": "on"})
    assert response.status_code == 302
    assert Course.objects.get(slug="password-basics").latest_published().number == 1


def test_a_format_error_shows_its_line_and_nothing_is_saved(client_for, lead):
    broken = course_text().replace("- [ ] On a sticky note", "- [?] On a sticky note")
    line = broken.splitlines().index("- [?] On a sticky note") + 1
    response = client_for(lead).post("/awareness/courses/new/", {"source": broken})
    assert response.status_code == 400
    page = response.content.decode()
    assert f"Line {line}:" in page and "Nothing was saved" in page
    assert "- [?] On a sticky note" in page  # the author's text is kept to fix it
    assert not Course.objects.exists() and not AuditEntry.objects.filter(action__startswith="course.").exists()


def test_a_file_that_is_not_text_is_refused(client_for, lead):
    response = client_for(lead).post("/awareness/courses/new/", {"file": upload("course.pdf", b"%PDF-1.4")})
    assert response.status_code == 400 and "Upload a .md or .txt file" in response.content.decode()
    assert not Course.objects.exists()


def test_an_existing_slug_is_refused(client_for, lead, course):
    response = client_for(lead).post("/awareness/courses/new/", {"source": course_text()})
    assert response.status_code == 400 and "exists already" in response.content.decode()
    assert Course.objects.count() == 1


def test_editing_a_published_course_makes_version_2_a_draft_and_leaves_version_1(client_for, lead, course):
    client = client_for(lead)
    v1 = course.versions.get()
    lessons_before = list(v1.lessons.values_list("title", "body"))
    form = client.get(f"/awareness/courses/{course.pk}/edit/").content.decode()
    assert "slug: password-basics" in form  # starts from the published text

    changed = course_text(title="Password basics, revised", lesson="Use **passphrases**.")
    response = client.post(f"/awareness/courses/{course.pk}/edit/", {"source": changed})
    assert response.status_code == 302
    v1.refresh_from_db()
    v2 = course.versions.get(number=2)
    assert v2.status == VersionStatus.DRAFT and v2.title == "Password basics, revised"
    assert v1.is_published and v1.title == "Password basics" and v1.source == course_text()
    assert list(v1.lessons.values_list("title", "body")) == lessons_before
    # Saving again edits the same draft: still two versions.
    client.post(f"/awareness/courses/{course.pk}/edit/", {"source": changed.replace("revised", "v2")})
    assert course.versions.count() == 2
    page = client.get(f"/awareness/courses/{course.pk}/versions/1/").content.decode()
    assert "Use a <strong>password manager</strong>." in page
    client.post(f"/awareness/courses/{course.pk}/publish/")
    assert course.latest_published().number == 2
    course.refresh_from_db()
    assert course.title == "Password basics, v2"


def test_changing_the_slug_is_refused(client_for, lead, course):
    response = client_for(lead).post(f"/awareness/courses/{course.pk}/edit/",
                                     {"source": course_text(slug="other-slug")})
    assert response.status_code == 400 and "The slug must stay" in response.content.decode()
    assert course.versions.count() == 1


def test_publishing_without_a_draft_or_without_questions_is_refused(client_for, lead, course):
    client = client_for(lead)
    response = client.post(f"/awareness/courses/{course.pk}/publish/", follow=True)
    assert "There is no draft to publish" in response.content.decode()
    # A draft whose questions are gone (the parser refuses a quiz-less text) is not published.
    draft = do_save_draft(acting_user=lead, course=course, source=course_text(title="New"))
    draft.questions.all().delete()
    response = client.post(f"/awareness/courses/{course.pk}/publish/", follow=True)
    assert "needs questions" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == VersionStatus.DRAFT


def test_a_course_without_questions_cannot_be_created(client_for, lead):
    response = client_for(lead).post("/awareness/courses/new/", {"source": course_text(quiz=False),
                                                                 "publish": "on"})
    assert response.status_code == 400 and "Line " in response.content.decode()
    assert not Course.objects.exists()


def test_archive_and_unarchive(client_for, lead, course):
    client = client_for(lead)
    client.post(f"/awareness/courses/{course.pk}/archive/", {"archived": "1"})
    course.refresh_from_db()
    assert course.archived
    link = f'href="/awareness/courses/{course.pk}/"'
    assert link not in client.get("/awareness/courses/").content.decode()
    assert link in client.get("/awareness/courses/?show=archived").content.decode()
    client.post(f"/awareness/courses/{course.pk}/archive/", {"archived": "0"})
    course.refresh_from_db()
    assert not course.archived
    assert AuditEntry.objects.filter(action__in=["course.archived", "course.unarchived"]).count() == 2


def test_preview_marks_the_right_answers_and_renders_lessons(client_for, lead, course):
    page = client_for(lead).get(f"/awareness/courses/{course.pk}/").content.decode()
    assert "<strong>✓ In the password manager</strong>" in page
    assert "✓ On a sticky note" not in page
    assert "Use a <strong>password manager</strong>." in page


def test_script_and_onerror_in_a_lesson_are_not_in_the_preview(client_for, lead):
    lesson = ('<script>alert(1)</script>\n\n<img src=x onerror="alert(2)">\n\n'
              '![x](javascript:alert(3))\n\n[click](javascript:alert(4))')
    course = do_create_course(acting_user=lead, source=course_text(lesson=lesson))
    client = client_for(lead)
    for url in (f"/awareness/courses/{course.pk}/", f"/awareness/courses/{course.pk}/versions/1/"):
        page = client.get(url).content.decode()
        assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page  # shown as text
        assert not re.search(r"<[^<>]*\sonerror", page)
        assert 'src="javascript:' not in page and 'href="javascript:' not in page


# --- the starter curriculum ----------------------------------------------------------------


def test_the_starter_curriculum_installs_once(client_for, lead):
    client = client_for(lead)
    response = client.post("/awareness/courses/starter/", follow=True)
    page = response.content.decode()
    assert "Added and published" in page and "Recognising phishing" in page
    assert Course.objects.count() == 4
    assert CourseVersion.objects.filter(status=VersionStatus.PUBLISHED).count() == 4
    page = client.post("/awareness/courses/starter/", follow=True).content.decode()
    assert "nothing was added" in page
    assert Course.objects.count() == 4 and CourseVersion.objects.count() == 4


# --- images --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt,content_type", [("PNG", "image/png"), ("JPEG", "image/jpeg"),
                                              ("GIF", "image/gif"), ("WEBP", "image/webp")])
def test_image_upload_and_serving(client_for, lead, fmt, content_type):
    client = client_for(lead)
    response = client.post("/awareness/images/", {"image": upload(f"diagram.{fmt.lower()}", png_bytes(fmt=fmt))})
    assert response.status_code == 302
    image = CourseImage.objects.get()
    assert image.content_type == content_type and (image.width, image.height) == (4, 3)
    listing = client.get("/awareness/images/").content.decode()
    assert f"![Describe the image](/awareness/images/{image.pk}/)" in listing
    served = client.get(f"/awareness/images/{image.pk}/")
    assert served.status_code == 200 and served["Content-Type"] == content_type
    assert served["X-Content-Type-Options"] == "nosniff" and "max-age" in served["Cache-Control"]
    assert served.content == bytes(image.data)


def test_a_text_file_renamed_png_is_refused(client_for, lead):
    response = client_for(lead).post("/awareness/images/", {"image": upload("evil.png", b"<svg onload=alert(1)>")})
    assert response.status_code == 400 and "not a PNG, JPEG, GIF or WebP image" in response.content.decode()
    assert not CourseImage.objects.exists()


def test_an_svg_is_refused(client_for, lead):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    response = client_for(lead).post("/awareness/images/", {"image": upload("logo.svg", svg)})
    assert response.status_code == 400 and not CourseImage.objects.exists()


def test_an_image_over_2_mb_is_refused(client_for, lead):
    big = png_bytes() + b"\0" * (2 * 1024 * 1024)
    response = client_for(lead).post("/awareness/images/", {"image": upload("big.png", big)})
    assert response.status_code == 400 and "the limit is 2 MB" in response.content.decode()
    assert not CourseImage.objects.exists()


def test_images_are_served_to_a_learner_session_and_not_to_strangers(client, lead):
    image = CourseImage.objects.create(name="x.png", content_type="image/png", data=png_bytes(), width=4, height=3)
    assert client.get(f"/awareness/images/{image.pk}/").status_code == 403
    person = Person.objects.create(employee_id="E1", email="e1@example.com", first_name="E", last_name="One")
    assert client.get(training_link_path(person.pk)).status_code == 302  # the learner opens their link
    served = client.get(f"/awareness/images/{image.pk}/")
    assert served.status_code == 200 and served["X-Content-Type-Options"] == "nosniff"
    assert client.get("/awareness/images/999999/").status_code == 404
    # Once the link has expired, the session shows nothing any more.
    session = client.session
    session["training_link_expires_at"] = 0
    session.save()
    assert client.get(f"/awareness/images/{image.pk}/").status_code == 403


@pytest.mark.parametrize("role", ALL_ROLES)
def test_lesson_images_for_course_readers_and_learners(client_for, make_user, role):
    image = CourseImage.objects.create(name="x.png", content_type="image/png", data=png_bytes(), width=4, height=3)
    url = f"/awareness/images/{image.pk}/"
    without_record = client_for(make_user(role)).get(url).status_code
    assert without_record == (200 if role in READERS else 403)
    n = Person.objects.count() + 1
    learner = Person.objects.create(employee_id=f"L{n}", email=f"l{n}@example.com", first_name="L", last_name="N")
    assert client_for(make_user(role, person=learner)).get(url).status_code == 200


# --- who may do what -----------------------------------------------------------------------


PAGES = ["/awareness/courses/", "/awareness/courses/new/", "/awareness/courses/{pk}/",
         "/awareness/courses/{pk}/edit/", "/awareness/courses/{pk}/versions/1/", "/awareness/images/"]
WRITE_PAGES = {"/awareness/courses/new/", "/awareness/courses/{pk}/edit/"}


@pytest.mark.parametrize("url", PAGES + ["/awareness/courses/starter/", "/awareness/courses/{pk}/publish/",
                                         "/awareness/courses/{pk}/archive/"])
def test_anonymous_is_sent_to_sign_in(client, course, url):
    response = client.post(url.format(pk=course.pk))
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("role", ALL_ROLES)
def test_pages_by_role(client_for, make_user, course, role):
    client = client_for(make_user(role))
    for url in PAGES:
        allowed = role in (WRITERS if url in WRITE_PAGES else READERS)
        assert client.get(url.format(pk=course.pk)).status_code == (200 if allowed else 403), url
    if role in READERS:
        page = client.get("/awareness/courses/").content.decode()
        assert ('href="/awareness/courses/new/"' in page) == (role in WRITERS)
        assert ("Add the starter curriculum" in page) == (role in WRITERS)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_writes_by_role(client_for, make_user, lead, role):
    course = do_create_course(acting_user=lead, source=course_text())
    client = client_for(make_user(role))
    responses = [
        client.post("/awareness/courses/new/", {"source": course_text(slug="another")}),
        client.post(f"/awareness/courses/{course.pk}/edit/", {"source": course_text(title="Changed")}),
        client.post(f"/awareness/courses/{course.pk}/publish/"),
        client.post(f"/awareness/courses/{course.pk}/archive/", {"archived": "1"}),
        client.post("/awareness/courses/starter/"),
        client.post("/awareness/images/", {"image": upload("a.png", png_bytes())}),
    ]
    course.refresh_from_db()
    if role in WRITERS:
        assert all(r.status_code == 302 for r in responses)
        assert course.archived and course.latest_published().title == "Changed"
        assert Course.objects.count() == 6 and CourseImage.objects.count() == 1
    else:
        assert all(r.status_code == 403 for r in responses)
        assert not course.archived and course.latest_published() is None
        assert Course.objects.count() == 1 and not CourseImage.objects.exists()


def test_unknown_course_is_404(client_for, lead, course):
    client = client_for(lead)
    assert client.get("/awareness/courses/999999/").status_code == 404
    assert client.get(f"/awareness/courses/{course.pk}/versions/9/").status_code == 404


def test_course_list_query_count_does_not_grow(client_for, lead, django_assert_max_num_queries):
    client = client_for(lead)
    for n in range(3):
        do_create_course(acting_user=lead, source=course_text(slug=f"c-{n}", title=f"C {n}"), publish=True)
    client.get("/awareness/courses/")  # warm the session
    with django_assert_max_num_queries(8) as few:
        client.get("/awareness/courses/")
    for n in range(3, 25):
        course = do_create_course(acting_user=lead, source=course_text(slug=f"c-{n}", title=f"C {n}"), publish=True)
        do_save_draft(acting_user=lead, course=course, source=course_text(slug=f"c-{n}", title="next"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get("/awareness/courses/").content.decode()
    assert "Draft 2 pending" in page


# --- the API -------------------------------------------------------------------------------


def test_api_create_list_and_get(api_for, lead):
    api = api_for(lead)
    response = api.post("/api/v1/courses", {"source": course_text(), "publish": True}, content_type=JSON)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "password-basics" and body["published_version"] == 1 and body["draft_version"] is None
    assert body["versions"][0] | {"published_at": None} == {
        "number": 1, "status": "published", "title": "Password basics", "duration_minutes": 5, "pass_mark": 50,
        "questions_count": 1, "assignments_count": 0, "published_at": None}
    listed = api.get("/api/v1/courses").json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == body["id"]
    assert api.get(f"/api/v1/courses/{body['id']}").json()["versions"][0]["questions_count"] == 1
    assert api.get("/api/v1/courses/999999").status_code == 404


def test_api_format_error_is_422_with_the_line(api_for, lead):
    broken = course_text().replace("pass_mark: 50", "pass_mark: lots")
    response = api_for(lead).post("/api/v1/courses", {"source": broken}, content_type=JSON)
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["line"] == 6 and error["msg"].startswith("Line 6: pass_mark must be a whole number")
    assert not Course.objects.exists()


def test_api_anonymous_is_401(client, course):
    assert client.get("/api/v1/courses").status_code == 401
    assert client.get(f"/api/v1/courses/{course.pk}").status_code == 401
    assert client.post("/api/v1/courses", {"source": course_text(slug="x")}, content_type=JSON).status_code == 401


@pytest.mark.parametrize("role", ALL_ROLES)
def test_api_by_role(api_for, make_user, course, role):
    api = api_for(make_user(role))
    read = 200 if role in READERS else 403
    assert api.get("/api/v1/courses").status_code == read
    assert api.get(f"/api/v1/courses/{course.pk}").status_code == read
    created = api.post("/api/v1/courses", {"source": course_text(slug="by-api")}, content_type=JSON)
    assert created.status_code == (201 if role in WRITERS else 403)
    assert Course.objects.filter(slug="by-api").exists() == (role in WRITERS)


def test_api_list_query_count_does_not_grow(api_for, lead, django_assert_max_num_queries):
    api = api_for(lead)
    do_create_course(acting_user=lead, source=course_text(slug="c-0"), publish=True)
    with django_assert_max_num_queries(8) as few:
        api.get("/api/v1/courses")
    for n in range(1, 20):
        do_create_course(acting_user=lead, source=course_text(slug=f"c-{n}"), publish=True)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert api.get("/api/v1/courses").json()["count"] == 20


def test_lessons_keep_their_version(lead, course):
    do_save_draft(acting_user=lead, course=course, source=course_text(lesson="Changed text."))
    do_publish(acting_user=lead, course=course)
    assert list(Lesson.objects.filter(version__course=course).order_by("version__number")
                .values_list("version__number", "body")) == [(1, "Use a **password manager**."),
                                                             (2, "Changed text.")]
