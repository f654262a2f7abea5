"""The learner's side of a course: lessons done, quiz attempts and their scores, policies
acknowledged. Each write is a ``do_*`` function in one transaction with its audit entry; the view
checks the input first (``read_answers``).

The actor is the signed-in user, or — through the emailed link, where nobody is signed in —
``None`` with the learner's email as the label.

``Attempt.order`` holds what one try shows, so a reload keeps it::

    {"questions": [12, 10, 11], "choices": {"12": [40, 38, 39], "10": [...], "11": [...]}}

``Attempt.answers`` maps each question id (a string, as JSON keys are) to the chosen choice ids.
A question is right only if the chosen set equals its set of correct choices; the score is the
percentage of questions right, rounded down.
"""

import random
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from bastion.audit.chain import record
from bastion.people.models import Person

from .models import (
    Acknowledgement,
    Assignment,
    AssignmentStatus,
    Attempt,
    CourseVersion,
    Lesson,
    PolicyVersion,
    Question,
)


class PlayerError(ValueError):
    """What the learner asked cannot be done now; ``str(error)`` is fit to show them."""


class AnswerError(PlayerError):
    """The submitted answers do not fit the quiz (unknown question or choice, missing answer)."""


@dataclass(frozen=True)
class Learner:
    """Who acts in the player: the person, and how the audit trail names them."""

    person: Person
    user: object | None  # the signed-in user, or None through the emailed link

    @property
    def actor_label(self) -> str:
        return getattr(self.user, "email", None) or self.person.email


def _audit(action: str, learner: Learner, obj, request, after: dict) -> None:
    record(action, actor=learner.user, actor_label=learner.actor_label, obj=obj, request=request,
           after=after)


def _locked(assignment: Assignment) -> Assignment:
    return Assignment.objects.select_for_update().select_related("version").get(pk=assignment.pk)


def _require_open(assignment: Assignment) -> None:
    if not assignment.is_open:
        raise PlayerError(f"This training is {assignment.get_status_display().lower()}: "
                          "you can look through it, but not take it again.")


# --- reading the quiz -------------------------------------------------------------------

def quiz_questions(version: CourseVersion) -> dict[int, Question]:
    """The version's questions by id, their choices prefetched (``question.choices.all()``)."""
    return {q.pk: q for q in version.questions.prefetch_related("choices")}


def new_order(questions: dict[int, Question], *, shuffle: bool, rng: random.Random | None = None) -> dict:
    """The order one try shows: by position, or shuffled (questions and each one's choices)."""
    ordered = sorted(questions.values(), key=lambda q: q.position)
    question_ids = [q.pk for q in ordered]
    choices = {str(q.pk): [c.pk for c in q.choices.all()] for q in ordered}
    if shuffle:
        rng = rng or random.Random()
        rng.shuffle(question_ids)
        for ids in choices.values():
            rng.shuffle(ids)
    return {"questions": question_ids, "choices": choices}


def read_answers(order: dict, questions: dict[int, Question], data) -> dict[str, list[int]]:
    """The answers posted for a try, checked against what it showed.

    ``data`` is the form (a QueryDict): field ``q<question id>`` holds the chosen choice ids;
    ``questions`` (from :func:`quiz_questions`) say which take several.
    Raises :class:`AnswerError` for a question not in the try, a choice not of its question, two
    choices for a single-choice question, or a question left unanswered."""
    shown = [int(q) for q in order["questions"]]
    allowed = {str(q): {int(c) for c in order["choices"].get(str(q), [])} for q in shown}
    multiple = {str(qid): question.multiple for qid, question in questions.items()}
    answers: dict[str, list[int]] = {}
    for key in data:
        if not key.startswith("q"):
            continue
        qid = key[1:]
        if qid not in allowed:
            raise AnswerError("The answers include a question that is not in this quiz. "
                              "Reload the page and answer the questions shown.")
        chosen: list[int] = []
        for value in data.getlist(key):
            try:
                choice = int(value)
            except (TypeError, ValueError):
                raise AnswerError("An answer is not one of the question's choices.") from None
            if choice not in allowed[qid]:
                raise AnswerError("An answer is not one of the question's choices. "
                                  "Reload the page and choose again.")
            if choice not in chosen:
                chosen.append(choice)
        if len(chosen) > 1 and not multiple.get(qid, False):
            raise AnswerError("Choose only one answer for a question that has one right answer.")
        if chosen:
            answers[qid] = sorted(chosen)
    missing = [n for n, q in enumerate(shown, start=1) if str(q) not in answers]
    if missing:
        numbers = ", ".join(str(n) for n in missing)
        raise AnswerError(f"Answer every question before you submit: question{'s' if len(missing) > 1 else ''} "
                          f"{numbers} {'have' if len(missing) > 1 else 'has'} no answer yet.")
    return answers


def question_is_right(question: Question, chosen: list[int] | set[int]) -> bool:
    correct = {c.pk for c in question.choices.all() if c.correct}
    return set(chosen) == correct


def score_answers(questions: dict[int, Question], answers: dict[str, list[int]]) -> int:
    """The percentage of questions answered right, rounded down."""
    if not questions:
        return 0
    right = sum(1 for qid, q in questions.items() if question_is_right(q, answers.get(str(qid), [])))
    return right * 100 // len(questions)


def tries_left(assignment: Assignment) -> int | None:
    """How many more tries the learner has; None for as many as they need."""
    limit = assignment.version.max_attempts
    return None if limit is None else max(limit - assignment.attempts_used, 0)


# --- writes -----------------------------------------------------------------------------

@transaction.atomic
def do_complete_lesson(*, learner: Learner, assignment: Assignment, lesson: Lesson, request=None) -> Assignment:
    """Record a lesson as done; the first one starts the assignment."""
    assignment = _locked(assignment)
    _require_open(assignment)
    if lesson.version_id != assignment.version_id:
        raise PlayerError("This lesson is not part of your version of the course.")
    done = list(assignment.lessons_done or [])
    if lesson.pk in done:
        return assignment
    done.append(lesson.pk)
    assignment.lessons_done = done
    assignment.save(update_fields=["lessons_done", *assignment.mark_started(timezone.now())])
    _audit("training.lesson_done", learner, assignment, request,
           {"lesson": lesson.position, "title": lesson.title, "status": assignment.status})
    return assignment


@transaction.atomic
def do_start_attempt(*, learner: Learner, assignment: Assignment, request=None,
                     rng: random.Random | None = None) -> Attempt:
    """Open a try at the quiz, its questions in a fixed (possibly shuffled) order; an open try
    is returned as it is, so a double click or a reload starts nothing new."""
    assignment = _locked(assignment)
    _require_open(assignment)
    open_attempt = assignment.attempts.filter(submitted_at__isnull=True).order_by("-number").first()
    if open_attempt is not None:
        return open_attempt
    left = tries_left(assignment)
    if left == 0:
        raise PlayerError("You have no tries left at this quiz.")
    questions = quiz_questions(assignment.version)
    if not questions:
        raise PlayerError("This course has no questions.")
    lessons = set(assignment.version.lessons.values_list("pk", flat=True))
    if not lessons <= set(assignment.lessons_done or []):
        raise PlayerError("Finish the lessons before the quiz.")
    order = new_order(questions, shuffle=assignment.version.shuffle, rng=rng)
    last = assignment.attempts.order_by("-number").values_list("number", flat=True).first() or 0
    attempt = Attempt.objects.create(assignment=assignment, number=last + 1, order=order)
    if fields := assignment.mark_started(timezone.now()):
        assignment.save(update_fields=fields)
    _audit("training.quiz_started", learner, assignment, request, {"attempt": attempt.number})
    return attempt


@transaction.atomic
def do_submit_attempt(*, learner: Learner, assignment: Assignment, attempt: Attempt,
                      answers: dict[str, list[int]], request=None) -> Attempt:
    """Score a try (answers already checked with :func:`read_answers`). A pass completes the
    assignment; the last failed try, when tries are limited, fails it. The assignment keeps
    the best score."""
    assignment = _locked(assignment)
    _require_open(assignment)
    attempt = Attempt.objects.select_for_update().get(pk=attempt.pk, assignment=assignment)
    if attempt.submitted_at is not None:
        raise PlayerError("This try has already been submitted.")
    version = assignment.version
    questions = quiz_questions(version)
    if set(answers) != {str(q) for q in questions}:
        raise AnswerError("Answer every question of this quiz, and only those.")
    now = timezone.now()
    attempt.answers = answers
    attempt.score = score_answers(questions, answers)
    attempt.passed = attempt.score >= version.pass_mark
    attempt.submitted_at = now
    attempt.save(update_fields=["answers", "score", "passed", "submitted_at"])
    assignment.attempts_used = attempt.number
    assignment.score = max(assignment.score or 0, attempt.score)
    if attempt.passed:
        assignment.complete(score=attempt.score, now=now)
    elif version.max_attempts is not None and assignment.attempts_used >= version.max_attempts:
        assignment.status = AssignmentStatus.FAILED
    assignment.changed_at = now
    assignment.save(update_fields=["attempts_used", "score", "status", "completed_at", "on_time", "changed_at"])
    _audit("training.quiz_submitted", learner, assignment, request, {
        "attempt": attempt.number, "score": attempt.score, "pass_mark": version.pass_mark,
        "passed": attempt.passed, "status": assignment.status})
    return attempt


@transaction.atomic
def do_acknowledge_policy(*, learner: Learner, version: PolicyVersion, request=None) -> Acknowledgement:
    """Record that the learner has read and accepts this version of the policy; a second time
    returns the first acknowledgement."""
    acknowledgement, created = Acknowledgement.objects.get_or_create(person=learner.person, version=version)
    if created:
        _audit("training.policy_acknowledged", learner, version, request, {
            "policy": version.policy.title, "version": version.number, "person": learner.person.email})
    return acknowledgement


@transaction.atomic
def do_record_link_opened(*, person: Person, request=None) -> None:
    """The emailed training link was opened: this browser may now act as the person in their
    training (a security event, like a sign-in)."""
    record("training.link_opened", actor=None, actor_label=person.email, obj=person, request=request)
