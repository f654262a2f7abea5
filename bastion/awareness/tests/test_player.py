"""The learner's side: the emailed link, "my training", the course player, the quiz, the
certificate and policy acknowledgements — through the HTTP client, as a learner would."""

import random
import re
from datetime import date, timedelta
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from bastion.accounts.models import Role
from bastion.audit.models import AuditEntry
from bastion.awareness import certificate
from bastion.awareness.actions import do_create_course, do_publish, do_save_draft
from bastion.awareness.links import TRAINING_PURPOSE, training_link_path
from bastion.awareness.models import (
    Acknowledgement,
    Assignment,
    AssignmentStatus,
    Attempt,
    Course,
    Policy,
    PolicyVersion,
    Programme,
)
from bastion.lib.tokens import make_link_token
from bastion.people.models import Person
from conftest import ALL_ROLES

pytestmark = pytest.mark.django_db

COURSE = """---
slug: {slug}
title: {title}
summary: A short course about **safe habits**.
duration_minutes: 10
pass_mark: {pass_mark}
{max_attempts}shuffle: {shuffle}
---

# Lesson: {lesson_title}
Lock your screen. This is **important**.

# Lesson: Reporting
Tell the security team at once.

# Quiz

## Question (single)
What do you do when you leave your desk?
- [x] Lock the screen
- [ ] Leave it open
> A locked screen keeps others out.

## Question (multiple)
Which are signs of phishing?
- [x] Urgency
- [x] A look-alike sender address
- [ ] A colleague's usual signature
> Urgency and a look-alike address are classic red flags.

## Question (single)
Who do you tell about a suspicious email?
- [ ] Nobody
- [x] The security team
"""


def make_course(slug="safe-habits", title="Safe habits", pass_mark=80, max_attempts=None, shuffle=False,
                lesson_title="Your screen") -> Course:
    source = COURSE.format(slug=slug, title=title, pass_mark=pass_mark, shuffle="true" if shuffle else "false",
                           max_attempts=f"max_attempts: {max_attempts}\n" if max_attempts else "",
                           lesson_title=lesson_title)
    return do_create_course(acting_user=None, source=source, publish=True)


def make_person(first="Ada", last="Lovelace", email=None) -> Person:
    n = Person.objects.count() + 1
    return Person.objects.create(employee_id=f"E{n:04d}", email=email or f"{first.lower()}{n}@example.com",
                                 first_name=first, last_name=last)


def assign(person: Person, course: Course, *, due_on: date | None = None, cycle_key="initial",
           status=AssignmentStatus.ASSIGNED) -> Assignment:
    programme, _ = Programme.objects.get_or_create(name=f"Programme {course.slug}", defaults={"course": course})
    version = course.latest_published()
    assert version is not None
    return Assignment.objects.create(
        person=person, programme=programme, version=version, reason="manual",
        cycle_key=cycle_key, due_on=due_on or timezone.localdate() + timedelta(days=14), status=status)


def link_client(person: Person) -> Client:
    client = Client()
    response = client.get(training_link_path(person.pk))
    assert response.status_code == 302 and response["Location"] == "/training/"
    return client


def finish_lessons(client: Client, assignment: Assignment) -> None:
    for lesson in assignment.version.lessons.all():
        response = client.post(f"/training/a/{assignment.pk}/lesson/{lesson.position}/")
        assert response.status_code == 302


def start_quiz(client: Client, assignment: Assignment) -> Attempt:
    finish_lessons(client, assignment)
    assert client.post(f"/training/a/{assignment.pk}/quiz/start/").status_code == 302
    return assignment.attempts.get(submitted_at__isnull=True)


def answers(assignment: Assignment, picks: dict[int, list[str]]) -> dict[str, list[str]]:
    """Form data choosing, for each question position, the choices with those texts."""
    data: dict[str, list[str]] = {}
    for question in assignment.version.questions.prefetch_related("choices"):
        chosen = picks.get(question.position, [])
        data[f"q{question.pk}"] = [str(c.pk) for c in question.choices.all() if c.text in chosen]
    return data


ALL_RIGHT = {1: ["Lock the screen"], 2: ["Urgency", "A look-alike sender address"], 3: ["The security team"]}
TWO_RIGHT = {**ALL_RIGHT, 2: ["Urgency"]}  # a multiple-choice question half right is wrong
ONE_RIGHT = {1: ["Leave it open"], 2: ["Urgency"], 3: ["The security team"]}


def submit(client: Client, assignment: Assignment, picks: dict[int, list[str]]):
    return client.post(f"/training/a/{assignment.pk}/quiz/", answers(assignment, picks))


def take(client: Client, assignment: Assignment, picks: dict[int, list[str]]) -> Attempt:
    assignment.refresh_from_db()
    if not assignment.attempts.filter(submitted_at__isnull=True).exists():
        assert client.post(f"/training/a/{assignment.pk}/quiz/start/").status_code == 302
    response = submit(client, assignment, picks)
    assert response.status_code == 302, response.content.decode()
    return assignment.attempts.order_by("-number")[0]


# --- the link --------------------------------------------------------------------------

def test_the_emailed_link_opens_my_training():
    ada = make_person()
    course = make_course()
    late = assign(ada, course, due_on=timezone.localdate() - timedelta(days=3))
    other = make_course(slug="other", title="Another course")
    done = assign(ada, other, status=AssignmentStatus.COMPLETED)
    Assignment.objects.filter(pk=done.pk).update(score=90, completed_at=timezone.now())
    client = link_client(ada)
    page = client.get("/training/").content.decode()
    assert "Training for Ada Lovelace" in page
    assert "Overdue by 3 days" in page
    assert page.index("Safe habits") < page.index("Another course")  # open ones first
    assert "90%" in page and f"/training/a/{done.pk}/certificate.pdf" in page
    assert f"/training/a/{late.pk}/" in page
    entry = AuditEntry.objects.filter(action="training.link_opened").get()
    assert entry.actor is None and entry.actor_label == ada.email


def test_the_link_grants_that_persons_training_and_nothing_else():
    ada = make_person()
    client = link_client(ada)
    for path in ("/people/", "/", "/systems/", "/audit/", "/account/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), path
    assert client.get("/training/").wsgi_request.user.is_anonymous


def test_another_persons_assignment_is_not_found():
    ada, bob = make_person(), make_person("Bob", "Smith")
    course = make_course()
    bobs = assign(bob, course, status=AssignmentStatus.COMPLETED)
    client = link_client(ada)
    for path in (f"/training/a/{bobs.pk}/", f"/training/a/{bobs.pk}/lesson/1/", f"/training/a/{bobs.pk}/quiz/",
                 f"/training/a/{bobs.pk}/quiz/1/", f"/training/a/{bobs.pk}/certificate.pdf"):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/training/a/{bobs.pk}/quiz/start/").status_code == 404
    assert client.post(f"/training/a/{bobs.pk}/lesson/1/").status_code == 404
    assert "Bob" not in client.get("/training/").content.decode()


def test_bad_links_say_what_is_wrong_and_grant_nothing():
    ada = make_person()
    assign(ada, make_course())
    client = Client()
    response = client.get("/training/t/not-a-real-token/")
    assert response.status_code == 400 and "This link is not valid" in response.content.decode()

    token = make_link_token(TRAINING_PURPOSE, ada.pk, expires_in=timedelta(days=1))
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    response = client.get(f"/training/t/{tampered}/")
    assert response.status_code == 400 and "This link is not valid" in response.content.decode()

    old = make_link_token(TRAINING_PURPOSE, ada.pk, expires_in=timedelta(days=30),
                          now=timezone.now() - timedelta(days=31))
    response = client.get(f"/training/t/{old}/")
    assert response.status_code == 410 and "This link expired on" in response.content.decode()

    review = make_link_token("review-answer", ada.pk, expires_in=timedelta(days=1))
    response = client.get(f"/training/t/{review}/")
    assert response.status_code == 400 and "not meant for this page" in response.content.decode()

    gone = make_person("Gone", "Away")
    gone_link = training_link_path(gone.pk)
    gone.delete()
    response = client.get(gone_link)
    assert response.status_code == 410 and "no longer in the directory" in response.content.decode()

    # None of these opened anything.
    assert client.get("/training/").status_code == 302
    assert not AuditEntry.objects.filter(action="training.link_opened").exists()


def test_a_link_session_ends_when_the_link_expires():
    ada = make_person()
    client = Client()
    soon = make_link_token(TRAINING_PURPOSE, ada.pk, expires_in=timedelta(hours=1))
    assert client.get(f"/training/t/{soon}/").status_code == 302
    assert client.get("/training/").status_code == 200
    with mock.patch("django.utils.timezone.now", return_value=timezone.now() + timedelta(hours=2)):
        response = client.get("/training/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_nobody_known_is_sent_to_sign_in_with_a_word_on_the_link():
    response = Client().get("/training/", follow=True)
    assert response.redirect_chain[0][0] == "/login/?next=/training/"
    assert "open the link in your training email" in response.content.decode()


@pytest.mark.parametrize("role", ALL_ROLES)
def test_signed_in_users_see_their_own_training(role, make_user, client_for):
    ada = make_person()
    assignment = assign(ada, make_course())
    with_person = client_for(make_user(role, person=ada))
    page = with_person.get("/training/")
    assert page.status_code == 200 and "Safe habits" in page.content.decode()
    assert with_person.get(f"/training/a/{assignment.pk}/").status_code == 200

    without_person = client_for(make_user(role))
    response = without_person.get("/training/")
    assert response.status_code == 404 and "not linked to a record in the directory" in response.content.decode()
    assert without_person.get(f"/training/a/{assignment.pk}/").status_code == 404


def test_signed_in_learner_is_the_actor_in_the_audit_trail(make_user, client_for):
    ada = make_person()
    assignment = assign(ada, make_course())
    user = make_user(Role.EMPLOYEE, person=ada)
    client_for(user).post(f"/training/a/{assignment.pk}/lesson/1/")
    entry = AuditEntry.objects.get(action="training.lesson_done")
    assert entry.actor == user

    bob = make_person("Bob", "Smith")
    bobs = assign(bob, make_course(slug="other", title="Other"))
    link_client(bob).post(f"/training/a/{bobs.pk}/lesson/1/")
    entry = AuditEntry.objects.filter(action="training.lesson_done").order_by("-seq").first()
    assert entry.actor is None and entry.actor_label == bob.email


# --- lessons, then the quiz --------------------------------------------------------------

def test_lessons_then_quiz():
    ada = make_person()
    assignment = assign(ada, make_course())
    client = link_client(ada)
    page = client.get(f"/training/a/{assignment.pk}/").content.decode()
    assert "Safe habits" in page and "<strong>safe habits</strong>" in page and "About 10 minutes" in page
    assert ">Start<" in page and f'href="/training/a/{assignment.pk}/lesson/1/"' in page

    # The quiz waits for the lessons.
    response = client.get(f"/training/a/{assignment.pk}/quiz/")
    assert response["Location"] == f"/training/a/{assignment.pk}/lesson/1/"

    lesson = client.get(f"/training/a/{assignment.pk}/lesson/1/").content.decode()
    assert "Your screen" in lesson and "<strong>important</strong>" in lesson
    assert "Mark as done and continue" in lesson
    response = client.post(f"/training/a/{assignment.pk}/lesson/1/")
    assert response["Location"] == f"/training/a/{assignment.pk}/lesson/2/"
    assignment.refresh_from_db()
    first = assignment.version.lessons.get(position=1)
    assert assignment.status == AssignmentStatus.IN_PROGRESS and assignment.started_at is not None
    assert assignment.lessons_done == [first.pk]

    # Resumable: "Continue" leads to the first unfinished lesson.
    page = client.get(f"/training/a/{assignment.pk}/").content.decode()
    assert ">Continue<" in page and f'href="/training/a/{assignment.pk}/lesson/2/"' in page
    assert "✓ Done" in page

    response = client.post(f"/training/a/{assignment.pk}/lesson/2/")
    assert response["Location"] == f"/training/a/{assignment.pk}/quiz/"
    quiz = client.get(f"/training/a/{assignment.pk}/quiz/").content.decode()
    assert "Start the quiz" in quiz and "3 questions" in quiz
    assert client.post(f"/training/a/{assignment.pk}/quiz/start/")["Location"] == f"/training/a/{assignment.pk}/quiz/"
    quiz = client.get(f"/training/a/{assignment.pk}/quiz/").content.decode()
    assert quiz.count("<fieldset") == 3 and quiz.count("<legend>") == 3
    assert quiz.count('type="radio"') == 4 and quiz.count('type="checkbox"') == 3
    assert "choose all that apply" in quiz


@pytest.mark.parametrize(("picks", "score", "passed"), [
    (ALL_RIGHT, 100, True),
    (TWO_RIGHT, 66, False),   # half of a multiple-choice question is not right
    (ONE_RIGHT, 33, False),
    ({1: ["Leave it open"], 2: ["Urgency", "A look-alike sender address", "A colleague's usual signature"],
      3: ["Nobody"]}, 0, False),  # every choice ticked is not the right set either
])
def test_scoring_worked_examples(picks, score, passed):
    ada = make_person()
    assignment = assign(ada, make_course(pass_mark=80))
    client = link_client(ada)
    start_quiz(client, assignment)
    response = submit(client, assignment, picks)
    assert response["Location"] == f"/training/a/{assignment.pk}/quiz/1/"
    attempt = assignment.attempts.get()
    assert (attempt.score, attempt.passed) == (score, passed)
    assignment.refresh_from_db()
    assert assignment.score == score and assignment.attempts_used == 1
    assert assignment.status == (AssignmentStatus.COMPLETED if passed else AssignmentStatus.IN_PROGRESS)
    result = client.get(response["Location"]).content.decode()
    assert f"{score}%" in result
    # The right answers and explanations once passed; after a failed try with tries left, only
    # which questions were right (else the next try would be a copy exercise).
    assert ("A locked screen keeps others out." in result) == passed
    assert ('<span class="badge ok">correct</span>' in result) == passed
    assert ("You passed" in result) == passed


@pytest.mark.parametrize(("pass_mark", "passed"), [(66, True), (67, False)])
def test_pass_mark_boundary(pass_mark, passed):
    ada = make_person()
    assignment = assign(ada, make_course(pass_mark=pass_mark))
    client = link_client(ada)
    start_quiz(client, assignment)
    attempt = take(client, assignment, TWO_RIGHT)
    assert attempt.score == 66 and attempt.passed is passed


def test_retries_until_a_pass_keep_the_best_score():
    ada = make_person()
    assignment = assign(ada, make_course())
    client = link_client(ada)
    finish_lessons(client, assignment)
    for _ in range(3):
        assert take(client, assignment, ONE_RIGHT).passed is False
    attempt = take(client, assignment, ALL_RIGHT)
    assert attempt.number == 4 and attempt.passed
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.COMPLETED and assignment.completed_at is not None
    assert assignment.score == 100 and assignment.attempts_used == 4
    assert assignment.on_time is True  # due in 14 days, done today
    entry = AuditEntry.objects.filter(action="training.quiz_submitted").order_by("-seq").first()
    assert entry.after["passed"] is True and entry.after["score"] == 100 and entry.actor_label == ada.email


def test_the_last_failed_try_fails_the_assignment():
    ada = make_person()
    assignment = assign(ada, make_course(max_attempts=2))
    client = link_client(ada)
    finish_lessons(client, assignment)
    assert "2 tries left" in client.get(f"/training/a/{assignment.pk}/quiz/").content.decode()
    take(client, assignment, TWO_RIGHT)
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.IN_PROGRESS
    result = client.get(f"/training/a/{assignment.pk}/quiz/1/").content.decode()
    assert "Try again" in result and "1 try left" in result
    take(client, assignment, ONE_RIGHT)
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.FAILED and assignment.score == 66
    assert assignment.attempts_used == 2 and assignment.completed_at is None
    last = client.get(f"/training/a/{assignment.pk}/quiz/2/").content.decode()
    assert "used all your tries" in last
    assert '<span class="badge ok">correct</span>' in last  # nothing left to take: the answers show
    # No third try.
    assert client.post(f"/training/a/{assignment.pk}/quiz/start/").status_code == 302
    assert client.get(f"/training/a/{assignment.pk}/quiz/")["Location"] == f"/training/a/{assignment.pk}/"
    assert assignment.attempts.count() == 2
    page = client.get("/training/").content.decode()
    assert "Failed (no tries left)" in page


@pytest.mark.parametrize("case", ["unknown question", "other question's choice", "two for single",
                                  "missing", "not a number"])
def test_bad_answers_record_nothing(case):
    ada = make_person()
    course = make_course()
    other = make_course(slug="other", title="Other")
    assignment = assign(ada, course)
    client = link_client(ada)
    attempt = start_quiz(client, assignment)
    data = answers(assignment, ALL_RIGHT)
    questions = list(assignment.version.questions.order_by("position"))
    first, second = questions[0], questions[1]
    if case == "unknown question":
        foreign = other.latest_published().questions.first()
        data[f"q{foreign.pk}"] = [str(foreign.choices.first().pk)]
        expected = "not in this quiz"
    elif case == "other question's choice":
        data[f"q{first.pk}"] = [str(second.choices.first().pk)]
        expected = "is not one of the question"
    elif case == "two for single":
        data[f"q{first.pk}"] = [str(c.pk) for c in first.choices.all()]
        expected = "Choose only one answer"
    elif case == "missing":
        del data[f"q{second.pk}"]
        expected = "question 2 has no answer"
    else:
        data[f"q{first.pk}"] = ["one"]
        expected = "is not one of the question"
    response = client.post(f"/training/a/{assignment.pk}/quiz/", data)
    assert response.status_code == 400 and expected in response.content.decode()
    attempt.refresh_from_db()
    assert attempt.submitted_at is None and attempt.score is None and attempt.answers == {}
    assignment.refresh_from_db()
    assert assignment.attempts_used == 0 and assignment.score is None
    assert assignment.status == AssignmentStatus.IN_PROGRESS
    assert not AuditEntry.objects.filter(action="training.quiz_submitted").exists()
    # The same try is still open and takes good answers.
    assert submit(client, assignment, ALL_RIGHT).status_code == 302


class _Reversing(random.Random):
    def shuffle(self, x, *args, **kwargs):  # type: ignore[override]
        x.reverse()


def _question_order(page: str) -> list[int]:
    return [int(qid) for qid in dict.fromkeys(re.findall(r'name="q(\d+)"', page))]


def test_shuffled_order_is_kept_on_reload():
    ada = make_person()
    assignment = assign(ada, make_course(shuffle=True))
    client = link_client(ada)
    finish_lessons(client, assignment)
    with mock.patch("bastion.awareness.player.random.Random", _Reversing):
        client.post(f"/training/a/{assignment.pk}/quiz/start/")
    attempt = assignment.attempts.get()
    by_position = list(assignment.version.questions.order_by("position").values_list("pk", flat=True))
    assert attempt.order["questions"] == by_position[::-1]
    first = client.get(f"/training/a/{assignment.pk}/quiz/").content.decode()
    second = client.get(f"/training/a/{assignment.pk}/quiz/").content.decode()
    assert _question_order(first) == _question_order(second) == by_position[::-1]
    multiple = assignment.version.questions.get(position=2)
    shown = [int(c) for c in re.findall(rf'name="q{multiple.pk}" value="(\d+)"', first)]
    assert shown == list(multiple.choices.order_by("-position").values_list("pk", flat=True))
    # A new try is shuffled afresh: the same questions, in an order of its own.
    take(client, assignment, ONE_RIGHT)
    client.post(f"/training/a/{assignment.pk}/quiz/start/")
    assert sorted(assignment.attempts.get(number=2).order["questions"]) == sorted(by_position)


def test_without_shuffle_questions_come_in_authored_order():
    ada = make_person()
    assignment = assign(ada, make_course(shuffle=False))
    client = link_client(ada)
    start_quiz(client, assignment)
    page = client.get(f"/training/a/{assignment.pk}/quiz/").content.decode()
    assert _question_order(page) == list(assignment.version.questions.order_by("position").values_list("pk", flat=True))


def test_a_completed_or_cancelled_assignment_can_be_reviewed_not_retaken():
    ada = make_person()
    assignment = assign(ada, make_course())
    client = link_client(ada)
    start_quiz(client, assignment)
    take(client, assignment, ALL_RIGHT)
    assert client.get(f"/training/a/{assignment.pk}/quiz/")["Location"] == f"/training/a/{assignment.pk}/"
    client.post(f"/training/a/{assignment.pk}/quiz/start/")
    assert assignment.attempts.count() == 1
    page = client.get(f"/training/a/{assignment.pk}/").content.decode()
    assert "You completed this course" in page and "Try 1" in page
    lesson = client.get(f"/training/a/{assignment.pk}/lesson/1/").content.decode()
    assert "Your screen" in lesson and "Mark as done" not in lesson

    cancelled = assign(ada, make_course(slug="other", title="Other"), status=AssignmentStatus.CANCELLED)
    assert client.get(f"/training/a/{cancelled.pk}/").status_code == 200
    assert client.get(f"/training/a/{cancelled.pk}/lesson/1/").status_code == 200
    client.post(f"/training/a/{cancelled.pk}/lesson/1/")
    cancelled.refresh_from_db()
    assert cancelled.lessons_done == [] and cancelled.status == AssignmentStatus.CANCELLED


def test_an_assignment_keeps_its_version():
    ada = make_person()
    course = make_course(lesson_title="Your screen (version one)")
    assignment = assign(ada, course)
    source = course.latest_published().source.replace("Your screen (version one)", "Your screen (version two)")
    do_save_draft(acting_user=None, course=course, source=source)
    do_publish(acting_user=None, course=course)
    assert course.latest_published().number == 2
    client = link_client(ada)
    page = client.get(f"/training/a/{assignment.pk}/").content.decode()
    assert "version one" in page and "version two" not in page
    assert "version one" in client.get(f"/training/a/{assignment.pk}/lesson/1/").content.decode()
    start_quiz(client, assignment)
    attempt = take(client, assignment, ALL_RIGHT)
    assert attempt.passed
    v1_questions = set(assignment.version.questions.values_list("pk", flat=True))
    assert {int(q) for q in attempt.order["questions"]} == v1_questions


# --- certificate -------------------------------------------------------------------------

def test_certificate_of_completion():
    ada = make_person()
    assignment = assign(ada, make_course())
    client = link_client(ada)
    assert client.get(f"/training/a/{assignment.pk}/certificate.pdf").status_code == 404
    start_quiz(client, assignment)
    take(client, assignment, ALL_RIGHT)
    response = client.get(f"/training/a/{assignment.pk}/certificate.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert "attachment" in response["Content-Disposition"]
    assignment.refresh_from_db()
    text = certificate.document_text(certificate.certificate_document(assignment))
    assert "Ada Lovelace" in text and "Safe habits" in text and "version 1" in text
    assert "Score 100%" in text and certificate.certificate_id(assignment) in text
    assert f"{assignment.completed_at.day} {assignment.completed_at:%B %Y}" in text


def test_certificate_renders_without_the_network():
    ada = make_person()
    assignment = assign(ada, make_course(), status=AssignmentStatus.COMPLETED)
    Assignment.objects.filter(pk=assignment.pk).update(completed_at=timezone.now(), score=100)
    assignment.refresh_from_db()
    with mock.patch("urllib.request.OpenerDirector.open", side_effect=AssertionError("network used")), \
            mock.patch("socket.create_connection", side_effect=AssertionError("network used")):
        assert certificate.certificate_pdf(assignment).startswith(b"%PDF")


# --- policies ----------------------------------------------------------------------------

def test_policy_acknowledgement():
    ada = make_person()
    policy = Policy.objects.create(slug="acceptable-use", title="Acceptable use policy")
    v1 = PolicyVersion.objects.create(policy=policy, number=1, body="Use company machines **for work**.")
    client = link_client(ada)
    page = client.get("/training/").content.decode()
    assert "Policies to read and acknowledge" in page and f"/training/policy/{v1.pk}/" in page
    reading = client.get(f"/training/policy/{v1.pk}/").content.decode()
    assert "<strong>for work</strong>" in reading and "I have read and accept" in reading

    assert client.post(f"/training/policy/{v1.pk}/")["Location"] == "/training/"
    assert client.post(f"/training/policy/{v1.pk}/")["Location"] == "/training/"  # twice is fine
    assert Acknowledgement.objects.filter(person=ada, version=v1).count() == 1
    assert AuditEntry.objects.filter(action="training.policy_acknowledged").count() == 1
    page = client.get("/training/").content.decode()
    assert "Policies to read and acknowledge" not in page and "Policies you have acknowledged" in page
    assert "You acknowledged this version" in client.get(f"/training/policy/{v1.pk}/").content.decode()

    # A new version asks again; the old one can no longer be accepted.
    v2 = PolicyVersion.objects.create(policy=policy, number=2, body="New rules.", summary_of_changes="Shorter.")
    page = client.get("/training/").content.decode()
    assert "Policies to read and acknowledge" in page and f"/training/policy/{v2.pk}/" in page
    bob = make_person("Bob", "Smith")
    bob_client = link_client(bob)
    assert bob_client.post(f"/training/policy/{v1.pk}/")["Location"] == f"/training/policy/{v2.pk}/"
    assert not Acknowledgement.objects.filter(person=bob).exists()
    assert client.post(f"/training/policy/{v2.pk}/").status_code == 302
    assert Acknowledgement.objects.filter(person=ada).count() == 2
    assert client.get("/training/policy/999999/").status_code == 404


# --- speed -------------------------------------------------------------------------------

def test_my_training_queries_are_bounded(django_assert_max_num_queries):
    ada = make_person()
    courses = [make_course(slug=f"course-{n}", title=f"Course {n}") for n in range(6)]
    for n, course in enumerate(courses):
        assignment = assign(ada, course, due_on=timezone.localdate() + timedelta(days=n - 3))
        if n % 2:
            Assignment.objects.filter(pk=assignment.pk).update(
                status=AssignmentStatus.COMPLETED, completed_at=timezone.now(), score=90)
    for n in range(5):
        policy = Policy.objects.create(slug=f"policy-{n}", title=f"Policy {n}")
        version = PolicyVersion.objects.create(policy=policy, number=1, body="Text")
        PolicyVersion.objects.create(policy=policy, number=2, body="Text")
        if n % 2:
            Acknowledgement.objects.create(person=ada, version=version)
    client = link_client(ada)
    with django_assert_max_num_queries(8):
        response = client.get("/training/")
    page = response.content.decode()
    assert page.count("Certificate (PDF)") == 3 and page.count("/training/policy/") == 5


def test_a_link_never_switches_a_signed_in_browser_to_someone_else(client_for, make_user):
    ada, bob = make_person(), make_person("Bob", "Baker")
    bob_user = make_user(Role.SECURITY_LEAD, person=bob)
    client = client_for(bob_user)
    token = make_link_token(TRAINING_PURPOSE, ada.pk, expires_in=timedelta(days=1))
    response = client.get(f"/training/t/{token}/")
    assert response.status_code == 409
    assert f"This link opens the training of {ada}" in response.content.decode()
    assert f"Training for {bob}" in client.get("/training/").content.decode()  # still Bob's
    # Bob's own link, signed in: simply his training.
    own = make_link_token(TRAINING_PURPOSE, bob.pk, expires_in=timedelta(days=1))
    assert client.get(f"/training/t/{own}/")["Location"] == "/training/"


def test_signing_in_after_opening_a_link_trains_as_yourself(client, make_user):
    ada, bob = make_person(), make_person("Bob", "Baker")
    bob_user = make_user(Role.EMPLOYEE, person=bob)
    token = make_link_token(TRAINING_PURPOSE, ada.pk, expires_in=timedelta(days=1))
    client.get(f"/training/t/{token}/")
    assert f"Training for {ada}" in client.get("/training/").content.decode()
    client.force_login(bob_user)
    page = client.get("/training/").content.decode()
    assert f"Training for {bob}" in page and str(ada) not in page


def test_a_leavers_link_no_longer_opens_their_training(client):
    gus = make_person("Gus", "Gone")
    token = make_link_token(TRAINING_PURPOSE, gus.pk, expires_in=timedelta(days=1))
    assert client.get(f"/training/t/{token}/").status_code == 302
    Person.objects.filter(pk=gus.pk).update(status="leaver")
    assert client.get("/training/").status_code == 302  # the session no longer counts
    assert client.get(f"/training/t/{token}/").status_code == 410
