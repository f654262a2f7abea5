"""The learner's pages under /training/: "my training", the course player, the certificate and
the policies to acknowledge.

The learner is the person named by the emailed link (kept in this session under
``TRAINING_SESSION_KEY``, read only here: it opens these pages and nothing else), else the
signed-in user's directory record. Assignments come through ``access.get_learner_assignment``,
so another person's assignment is "not found".
"""

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from bastion.lib.markdown import render_markdown
from bastion.lib.tokens import ExpiredLinkToken, LinkTokenError, read_link_token
from bastion.people.models import Person, PersonStatus

from . import access, certificate, player
from .links import TRAINING_PURPOSE
from .models import (
    OPEN_STATUSES,
    Acknowledgement,
    Assignment,
    AssignmentStatus,
    Attempt,
    PolicyVersion,
)
from .player import Learner, PlayerError

TRAINING_SESSION_KEY = "training_person_id"
TRAINING_SESSION_EXPIRES_KEY = "training_link_expires_at"
FINISHED_PER_PAGE = 20

SIGN_IN_NOTE = ("Sign in to see your training — or open the link in your training email: "
                "it works without a password.")


# --- who the learner is ----------------------------------------------------------------

def current_learner(request: HttpRequest) -> Learner | None:
    """The person this browser may train as: the signed-in user's own record, else the person of
    an emailed link opened in this browser (until the link expires, while they are still here)."""
    user = request.user
    if user.is_authenticated:
        # Signed in, you train as yourself: a link opened earlier in this browser does not count.
        person = user.person
        return Learner(person=person, user=user) if person is not None else None
    person_id = request.session.get(TRAINING_SESSION_KEY)
    if person_id is not None:
        expires = request.session.get(TRAINING_SESSION_EXPIRES_KEY, 0)
        if timezone.now().timestamp() < expires:
            person = Person.objects.filter(pk=person_id, status=PersonStatus.ACTIVE).first()
            if person is not None:
                return Learner(person=person, user=None)
        forget_link(request)
    return None


def forget_link(request: HttpRequest) -> None:
    """Drop what an opened training link left in the session (sign-in does this too)."""
    request.session.pop(TRAINING_SESSION_KEY, None)
    request.session.pop(TRAINING_SESSION_EXPIRES_KEY, None)


def learner_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Pass the learner to the view; nobody known → the sign-in page, with a word on the link."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        learner = current_learner(request)
        if learner is None:
            if request.user.is_authenticated:
                return render(request, "awareness/learner_message.html", {
                    "title": "My training",
                    "message": "Your account is not linked to a record in the directory, so there is "
                               "no training assigned to you. Ask the security team if you think there "
                               "should be."}, status=404)
            messages.info(request, SIGN_IN_NOTE)
            return redirect_to_login(request.get_full_path())
        return view(request, learner, *args, **kwargs)

    return wrapped


def training_link(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link: this browser may act as the person in their training, and no more."""
    try:
        claim = read_link_token(token, TRAINING_PURPOSE)
    except LinkTokenError as error:
        return render(request, "awareness/learner_message.html",
                      {"title": "Training link", "message": str(error), "is_error": True},
                      status=410 if isinstance(error, ExpiredLinkToken) else 400)
    person = Person.objects.filter(pk=claim.subject_id).first()
    if person is None or person.status != PersonStatus.ACTIVE:
        return render(request, "awareness/learner_message.html", {
            "title": "Training link", "is_error": True,
            "message": "This link is for someone who is no longer in the directory."}, status=410)
    if request.user.is_authenticated:
        if request.user.person_id == person.pk:
            return redirect("my-training")  # their own link: they are signed in already
        # Never switch a signed-in browser to someone else's training (a forwarded link).
        return render(request, "awareness/learner_message.html", {
            "title": "Training link", "is_error": True,
            "message": f"This link opens the training of {person}, but you are signed in as "
                       f"{request.user}. Sign out first if you are {person.first_name}; if someone "
                       "forwarded you their link, it is theirs to use."}, status=409)
    # A fresh session: nothing this browser held before is carried into the learner's.
    request.session.flush()
    request.session[TRAINING_SESSION_KEY] = person.pk
    request.session[TRAINING_SESSION_EXPIRES_KEY] = claim.expires_at.timestamp()
    player.do_record_link_opened(person=person, request=request)
    return redirect("my-training")


# --- my training ---------------------------------------------------------------------------

def _policy_versions_for(person: Person):
    """The current version of every policy, with the person's acknowledgement of it, if any."""
    latest = PolicyVersion.objects.filter(policy=OuterRef("policy")).order_by("-number").values("number")[:1]
    mine = Acknowledgement.objects.filter(person=person, version=OuterRef("pk"))
    return (PolicyVersion.objects.filter(number=Subquery(latest)).select_related("policy")
            .annotate(acknowledged=Exists(mine),
                      acknowledged_at=Subquery(mine.values("acknowledged_at")[:1]))
            .order_by("policy__title", "policy_id"))


@learner_required
def my_training(request: HttpRequest, learner: Learner) -> HttpResponse:
    mine = access.learner_assignments(learner.person)
    today = timezone.localdate()
    open_assignments = list(mine.filter(status__in=OPEN_STATUSES).order_by("due_on", "id"))
    for assignment in open_assignments:
        assignment.overdue_days = assignment.days_overdue(today)  # type: ignore[attr-defined]
        assignment.due_in = (assignment.due_on - today).days  # type: ignore[attr-defined]
    finished = mine.filter(status__in=[AssignmentStatus.COMPLETED, AssignmentStatus.FAILED]).order_by(
        "-completed_at", "-assigned_at", "-id")
    page = Paginator(finished, FINISHED_PER_PAGE).get_page(request.GET.get("page"))
    policies = list(_policy_versions_for(learner.person))
    return render(request, "awareness/learner_my_training.html", {
        "learner": learner, "open_assignments": open_assignments, "page_obj": page,
        "policies_to_read": [p for p in policies if not p.acknowledged],
        "policies_read": [p for p in policies if p.acknowledged]})


# --- the course player -------------------------------------------------------------------

def _lessons(assignment: Assignment) -> list:
    done = set(assignment.lessons_done or [])
    lessons = list(assignment.version.lessons.all())
    for lesson in lessons:
        lesson.done = lesson.pk in done  # type: ignore[attr-defined]
    return lessons


def _next_step(assignment: Assignment, lessons: list) -> str:
    """Where "Start"/"Continue" leads: the first unfinished lesson, else the quiz."""
    for lesson in lessons:
        if not lesson.done:
            return reverse("training-lesson", args=[assignment.pk, lesson.position])
    return reverse("training-quiz", args=[assignment.pk])


@learner_required
def course(request: HttpRequest, learner: Learner, pk: int) -> HttpResponse:
    assignment = access.get_learner_assignment(learner.person, pk)
    lessons = _lessons(assignment)
    attempts = list(assignment.attempts.filter(submitted_at__isnull=False).order_by("number"))
    started = any(lesson.done for lesson in lessons) or assignment.attempts.exists()
    return render(request, "awareness/learner_course.html", {
        "learner": learner, "assignment": assignment, "version": assignment.version, "lessons": lessons,
        "next_url": _next_step(assignment, lessons), "started": started, "attempts": attempts,
        "tries_left": player.tries_left(assignment),
        "summary": render_markdown(assignment.version.summary)})


@learner_required
def lesson(request: HttpRequest, learner: Learner, pk: int, position: int) -> HttpResponse:
    assignment = access.get_learner_assignment(learner.person, pk)
    lessons = _lessons(assignment)
    current = next((item for item in lessons if item.position == position), None)
    if current is None:
        raise Http404
    if request.method == "POST":
        try:
            assignment = player.do_complete_lesson(learner=learner, assignment=assignment, lesson=current,
                                                   request=request)
        except PlayerError as error:
            messages.error(request, str(error))
            return redirect("training-course", assignment.pk)
        later = [item for item in lessons if item.position > position]
        if later:
            return redirect("training-lesson", assignment.pk, later[0].position)
        return redirect("training-quiz", assignment.pk)
    index = lessons.index(current)
    return render(request, "awareness/learner_lesson.html", {
        "learner": learner, "assignment": assignment, "version": assignment.version, "lesson": current,
        "lessons": lessons, "number": index + 1, "body": render_markdown(current.body),
        "previous": lessons[index - 1] if index > 0 else None,
        "next": lessons[index + 1] if index + 1 < len(lessons) else None})


def _quiz_items(attempt: Attempt, questions: dict, chosen: dict[str, list[int]] | None = None) -> list[dict]:
    """The try's questions in its order, each with its choices in its order."""
    items = []
    for qid in attempt.order["questions"]:
        question = questions.get(int(qid))
        if question is None:  # a published version never loses a question; be safe anyway
            continue
        by_id = {c.pk: c for c in question.choices.all()}
        picked = set((chosen or {}).get(str(question.pk), []))
        choices = [{"choice": by_id[int(c)], "checked": int(c) in picked}
                   for c in attempt.order["choices"].get(str(question.pk), []) if int(c) in by_id]
        items.append({"question": question, "choices": choices})
    return items


def _posted_choices(data) -> dict[str, list[int]]:
    """What the learner ticked, to show the form again after a mistake (unchecked input)."""
    chosen: dict[str, list[int]] = {}
    for key in data:
        if key.startswith("q"):
            chosen[key[1:]] = [int(v) for v in data.getlist(key) if v.isascii() and v.isdigit() and len(v) < 19]
    return chosen


@learner_required
def quiz(request: HttpRequest, learner: Learner, pk: int) -> HttpResponse:
    assignment = access.get_learner_assignment(learner.person, pk)
    if not assignment.is_open:
        messages.info(request, f"This training is {assignment.get_status_display().lower()}: "
                               "you can look through it, but not take the quiz again.")
        return redirect("training-course", assignment.pk)
    lessons = _lessons(assignment)
    unfinished = [item for item in lessons if not item.done]
    if unfinished:
        messages.info(request, "Finish the lessons first; the quiz comes after them.")
        return redirect("training-lesson", assignment.pk, unfinished[0].position)
    attempt = assignment.attempts.filter(submitted_at__isnull=True).order_by("-number").first()
    version = assignment.version
    context = {"learner": learner, "assignment": assignment, "version": version,
               "tries_left": player.tries_left(assignment), "attempt": attempt}
    if attempt is None:
        if request.method == "POST":
            messages.error(request, "Start the quiz before you answer it.")
            return redirect("training-quiz", assignment.pk)
        context["question_count"] = version.questions.count()
        return render(request, "awareness/learner_quiz.html", context)
    questions = player.quiz_questions(version)
    if request.method == "POST":
        try:
            answers = player.read_answers(attempt.order, questions, request.POST)
            attempt = player.do_submit_attempt(learner=learner, assignment=assignment, attempt=attempt,
                                               answers=answers, request=request)
        except PlayerError as error:
            context.update(error=str(error), items=_quiz_items(attempt, questions, _posted_choices(request.POST)))
            return render(request, "awareness/learner_quiz.html", context, status=400)
        return redirect("training-attempt", assignment.pk, attempt.number)
    context["items"] = _quiz_items(attempt, questions)
    return render(request, "awareness/learner_quiz.html", context)


@require_POST
@learner_required
def quiz_start(request: HttpRequest, learner: Learner, pk: int) -> HttpResponse:
    assignment = access.get_learner_assignment(learner.person, pk)
    try:
        player.do_start_attempt(learner=learner, assignment=assignment, request=request)
    except PlayerError as error:
        messages.error(request, str(error))
        return redirect("training-course", assignment.pk)
    return redirect("training-quiz", assignment.pk)


@learner_required
def attempt_result(request: HttpRequest, learner: Learner, pk: int, number: int) -> HttpResponse:
    assignment = access.get_learner_assignment(learner.person, pk)
    attempt = get_object_or_404(assignment.attempts, number=number, submitted_at__isnull=False)
    questions = player.quiz_questions(assignment.version)
    items = _quiz_items(attempt, questions, attempt.answers)
    for item in items:
        item["right"] = player.question_is_right(item["question"], attempt.answers.get(str(item["question"].pk), []))
    return render(request, "awareness/learner_attempt.html", {
        "learner": learner, "assignment": assignment, "version": assignment.version, "attempt": attempt,
        "items": items, "tries_left": player.tries_left(assignment),
        "right_count": sum(1 for item in items if item["right"]),
        # The right answers and explanations only once no try is left to take: shown after a
        # failed try, they would make the next one a copy exercise.
        "reveal": attempt.passed or not assignment.is_open})


@learner_required
def certificate_pdf(request: HttpRequest, learner: Learner, pk: int) -> HttpResponse:
    assignment = access.get_learner_assignment(learner.person, pk)
    if assignment.status != AssignmentStatus.COMPLETED:
        raise Http404("There is a certificate only for a completed course.")
    pdf = certificate.certificate_pdf(assignment)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{certificate.certificate_filename(assignment)}"'
    return response


# --- policies ----------------------------------------------------------------------------

@learner_required
def policy(request: HttpRequest, learner: Learner, version_pk: int) -> HttpResponse:
    # Every policy is for everyone in the organisation: any learner may read any version.
    version = get_object_or_404(PolicyVersion.objects.select_related("policy"), pk=version_pk)
    current = version.policy.current_version()
    is_current = current is not None and current.pk == version.pk
    if request.method == "POST":
        if not is_current:
            messages.error(request, "A newer version of this policy has been published: read that one.")
            return redirect("training-policy", current.pk if current else version.pk)
        player.do_acknowledge_policy(learner=learner, version=version, request=request)
        messages.success(request, f"Thank you: you have acknowledged {version.policy.title} "
                                  f"(version {version.number}).")
        return redirect("my-training")
    acknowledgement = Acknowledgement.objects.filter(person=learner.person, version=version).first()
    return render(request, "awareness/learner_policy.html", {
        "learner": learner, "version": version, "policy": version.policy, "current": current,
        "is_current": is_current, "acknowledgement": acknowledgement, "body": render_markdown(version.body)})
