"""Courses as text: the starter curriculum that ships with Bastion, and courses uploaded by the
security team, in one Markdown format.

::

    ---
    slug: recognising-phishing
    title: Recognising phishing
    summary: Spot the signs of a fake email, text or call before you act on it.
    duration_minutes: 15
    pass_mark: 80            # percent of questions answered right
    max_attempts: 3          # blank for unlimited (optional, blank by default)
    shuffle: true            # shuffle questions and choices (optional, true by default)
    ---

    # Lesson: What phishing is
    Markdown, with ```phishing-email blocks (see bastion.lib.markdown) and images.

    # Quiz

    ## Question (single)
    The question text.
    - [x] the correct choice
    - [ ] a wrong choice
    > An optional explanation, shown after answering.

``# Lesson:`` and ``# Quiz`` are the only top-level headings; use ``##`` inside a lesson.
Mistakes raise :class:`CourseFormatError` naming the line, so an author can fix them.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from bastion.lib.markdown import phishing_block_problems

CURRICULUM_DIR = Path(__file__).resolve().parent / "curriculum"

REQUIRED_KEYS = ("slug", "title", "summary", "duration_minutes", "pass_mark")
OPTIONAL_KEYS = ("max_attempts", "shuffle")

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_FRONT_MATTER_LINE = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*)[ \t]*:[ \t]*(?P<value>.*)$")
_LESSON = re.compile(r"^#[ \t]+Lesson[ \t]*:[ \t]*(?P<title>.*?)[ \t#]*$", re.IGNORECASE)
_QUIZ = re.compile(r"^#[ \t]+Quiz[ \t#]*$", re.IGNORECASE)
_TOP_HEADING = re.compile(r"^#(?:[ \t]|$)")
_QUESTION = re.compile(r"^##[ \t]+Question[ \t]*\((?P<kind>[^)]*)\)[ \t]*$", re.IGNORECASE)
_CHOICE = re.compile(r"^[-*][ \t]+\[(?P<mark>[ xX])\][ \t]+(?P<text>.*?)[ \t]*$")
_LOOKS_LIKE_CHOICE = re.compile(r"^[-*][ \t]+\[")
_FENCE = re.compile(r"^[ ]{0,3}(?P<fence>`{3,}|~{3,})")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class CourseFormatError(ValueError):
    """Course text that does not follow the format. ``str(error)`` names the line."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(f"Line {line}: {message}")


@dataclass(frozen=True)
class ChoiceSpec:
    text: str
    correct: bool


@dataclass(frozen=True)
class QuestionSpec:
    text: str
    multiple: bool
    choices: tuple[ChoiceSpec, ...]
    explanation: str


@dataclass(frozen=True)
class LessonSpec:
    title: str
    body_markdown: str


@dataclass(frozen=True)
class CourseSpec:
    slug: str
    title: str
    summary: str
    duration_minutes: int
    pass_mark: int  # percent, 1-100
    max_attempts: int | None  # None: unlimited
    shuffle: bool
    lessons: tuple[LessonSpec, ...]
    questions: tuple[QuestionSpec, ...]


def starter_curriculum() -> list[CourseSpec]:
    """The courses that ship with Bastion, in their order (by file name)."""
    return [load_course(path) for path in sorted(CURRICULUM_DIR.glob("*.md"))]


def load_course(path: Path | str) -> CourseSpec:
    """Read and parse one course file; a format error names the file and the line."""
    path = Path(path)
    try:
        return parse_course(path.read_text(encoding="utf-8"))
    except CourseFormatError as error:
        raise CourseFormatError(error.line, f"{error.message} (in {path.name})") from None


def parse_course(text: str) -> CourseSpec:
    """Parse course text (the format in this module's docstring) into a :class:`CourseSpec`.

    Raises :class:`CourseFormatError` with the line number of the first mistake."""
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    meta, body_start = _parse_front_matter(lines)
    lessons, quiz_start = _parse_lessons(lines, body_start)
    questions = _parse_quiz(lines, quiz_start)
    return CourseSpec(lessons=tuple(lessons), questions=tuple(questions), **meta)


# --- front matter ---------------------------------------------------------------------------


def _parse_front_matter(lines: list[str]) -> tuple[dict, int]:
    """The front matter's values and the index of the first line after it."""
    first = 0
    while first < len(lines) and not lines[first].strip():
        first += 1
    if first == len(lines) or lines[first].strip() != "---":
        raise CourseFormatError(
            first + 1 if first < len(lines) else 1,
            "the course must start with front matter between two '---' lines "
            "(slug, title, summary, duration_minutes, pass_mark)",
        )
    raw: dict[str, tuple[str, int]] = {}
    index = first + 1
    while True:
        if index == len(lines):
            raise CourseFormatError(first + 1, "the front matter is not closed with a '---' line")
        line = lines[index]
        number = index + 1
        index += 1
        if line.strip() == "---":
            break
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _FRONT_MATTER_LINE.match(line.strip())
        if not match:
            raise CourseFormatError(number, f"expected 'key: value' in the front matter: {line!r}")
        key = match["key"].lower()
        if key not in REQUIRED_KEYS + OPTIONAL_KEYS:
            known = ", ".join(REQUIRED_KEYS + OPTIONAL_KEYS)
            raise CourseFormatError(number, f"unknown front matter key {key!r} (known: {known})")
        if key in raw:
            raise CourseFormatError(number, f"{key!r} is given twice in the front matter")
        value = match["value"].strip()
        if key not in ("slug", "title", "summary"):
            value = _strip_comment(value)
        raw[key] = (value, number)
    closing = index  # 1-based number of the closing '---' line

    for key in REQUIRED_KEYS:
        if key not in raw or not raw[key][0]:
            where = raw[key][1] if key in raw else closing
            raise CourseFormatError(where, f"the front matter needs a value for {key!r}")

    slug, slug_line = raw["slug"]
    if not _SLUG.match(slug) or len(slug) > 50:
        raise CourseFormatError(
            slug_line,
            "slug must be lower-case letters, digits and single hyphens "
            f"(at most 50 characters), e.g. 'recognising-phishing', not {slug!r}",
        )
    title, title_line = raw["title"]
    if len(title) > 200:
        raise CourseFormatError(title_line, "title must be at most 200 characters")
    duration = _whole_number(*raw["duration_minutes"], "duration_minutes", 1, 600)
    pass_mark = _whole_number(*raw["pass_mark"], "pass_mark", 1, 100)
    max_attempts = None
    if raw.get("max_attempts", ("", 0))[0]:
        max_attempts = _whole_number(*raw["max_attempts"], "max_attempts", 1, 100)
    shuffle = True
    if "shuffle" in raw and raw["shuffle"][0]:
        value, shuffle_line = raw["shuffle"]
        if value.lower() not in _TRUE | _FALSE:
            raise CourseFormatError(shuffle_line, f"shuffle must be true or false, not {value!r}")
        shuffle = value.lower() in _TRUE
    meta = {
        "slug": slug,
        "title": title,
        "summary": raw["summary"][0],
        "duration_minutes": duration,
        "pass_mark": pass_mark,
        "max_attempts": max_attempts,
        "shuffle": shuffle,
    }
    return meta, index


def _strip_comment(value: str) -> str:
    # "80   # percent" -> "80" (only for numbers and switches: a title may contain " #").
    return re.split(r"[ \t]+#", value, maxsplit=1)[0].strip()


def _whole_number(value: str, line: int, key: str, low: int, high: int) -> int:
    if not re.fullmatch(r"\d+", value):
        raise CourseFormatError(line, f"{key} must be a whole number, not {value!r}")
    number = int(value)
    if not low <= number <= high:
        raise CourseFormatError(line, f"{key} must be between {low} and {high}, not {number}")
    return number


# --- lessons --------------------------------------------------------------------------------


def _parse_lessons(lines: list[str], start: int) -> tuple[list[LessonSpec], int]:
    """The lessons from ``start`` up to ``# Quiz``, and the index of the line after it."""
    lessons: list[LessonSpec] = []
    title = ""
    title_line = 0
    body: list[str] = []
    fence = ""
    fence_line = 0

    def finish() -> None:
        body_markdown = "\n".join(body).strip("\n")
        if not body_markdown.strip():
            raise CourseFormatError(title_line, f"the lesson {title!r} has no text")
        first_body_line = title_line + 1 + next(i for i, b in enumerate(body) if b.strip())
        for offset, message in phishing_block_problems(body_markdown):
            raise CourseFormatError(first_body_line + offset - 1, message)
        lessons.append(LessonSpec(title=title, body_markdown=body_markdown))

    index = start
    while index < len(lines):
        line = lines[index]
        number = index + 1
        index += 1
        fence_match = _FENCE.match(line)
        if fence and fence_match and fence_match["fence"][0] == fence[0]:
            if len(fence_match["fence"]) >= len(fence) and not line.strip().strip(fence[0]):
                fence = ""
        elif not fence and fence_match:
            fence, fence_line = fence_match["fence"], number
        elif not fence and _TOP_HEADING.match(line):
            lesson = _LESSON.match(line)
            if title:
                finish()
            if _QUIZ.match(line):
                if not lessons:
                    raise CourseFormatError(number, "the course needs a lesson before '# Quiz'")
                return lessons, index
            if not lesson:
                raise CourseFormatError(
                    number,
                    "a top-level heading must be '# Lesson: <title>' or '# Quiz'; "
                    "use '## ' for a heading inside a lesson",
                )
            title, title_line, body = lesson["title"].strip(), number, []
            if not title:
                raise CourseFormatError(number, "the lesson needs a title: '# Lesson: <title>'")
            continue
        if title:
            body.append(line)
        elif line.strip():
            raise CourseFormatError(number, "expected '# Lesson: <title>' after the front matter")
    if fence:
        raise CourseFormatError(fence_line, "this fenced block is never closed")
    if title:
        finish()
    if not lessons:
        raise CourseFormatError(
            _last_line(lines), "the course needs at least one '# Lesson: <title>'"
        )
    raise CourseFormatError(
        _last_line(lines), "the course needs a '# Quiz' section after the lessons"
    )


# --- quiz -----------------------------------------------------------------------------------


class _QuestionDraft:
    def __init__(self, line: int, multiple: bool) -> None:
        self.line = line
        self.multiple = multiple
        self.text: list[str] = []
        self.choices: list[ChoiceSpec] = []
        self.explanation: list[str] = []

    def finish(self) -> QuestionSpec:
        text = "\n".join(self.text).strip()
        if not text:
            raise CourseFormatError(self.line, "the question has no text")
        if len(self.choices) < 2:
            raise CourseFormatError(self.line, "a question needs at least 2 choices")
        correct = sum(choice.correct for choice in self.choices)
        if correct == 0:
            raise CourseFormatError(self.line, "the question has no correct choice ('- [x] ...')")
        if not self.multiple and correct > 1:
            raise CourseFormatError(
                self.line,
                f"a single-choice question must have exactly one correct choice, not {correct} "
                "(write '## Question (multiple)' if several are correct)",
            )
        texts = [choice.text.casefold() for choice in self.choices]
        if len(set(texts)) < len(texts):
            raise CourseFormatError(self.line, "the question has the same choice twice")
        return QuestionSpec(
            text=text,
            multiple=self.multiple,
            choices=tuple(self.choices),
            explanation="\n".join(self.explanation).strip(),
        )


def _last_line(lines: list[str]) -> int:
    """The number of the last line with text: where "missing at the end" errors point."""
    return max((i for i, line in enumerate(lines, start=1) if line.strip()), default=1)


def _parse_quiz(lines: list[str], start: int) -> list[QuestionSpec]:
    questions: list[QuestionSpec] = []
    draft: _QuestionDraft | None = None
    for index in range(start, len(lines)):
        line = lines[index].rstrip()
        number = index + 1
        heading = _QUESTION.match(line)
        if heading:
            if draft:
                questions.append(draft.finish())
            kind = heading["kind"].strip().lower()
            if kind not in ("single", "multiple"):
                raise CourseFormatError(
                    number,
                    f"write '## Question (single)' or '## Question (multiple)', not {kind!r}",
                )
            draft = _QuestionDraft(number, multiple=kind == "multiple")
            continue
        if not line.strip():
            continue
        if draft is None:
            raise CourseFormatError(number, "expected '## Question (single)' or '(multiple)'")
        if line.startswith("#"):
            raise CourseFormatError(
                number, "only '## Question (single)' or '(multiple)' headings go in the quiz"
            )
        choice = _CHOICE.match(line)
        if choice:
            if draft.explanation:
                raise CourseFormatError(number, "a choice after the explanation ('> ...')")
            if not choice["text"]:
                raise CourseFormatError(number, "the choice has no text")
            draft.choices.append(ChoiceSpec(text=choice["text"], correct=choice["mark"] != " "))
        elif _LOOKS_LIKE_CHOICE.match(line):
            raise CourseFormatError(
                number, "write a choice as '- [x] correct choice' or '- [ ] wrong choice'"
            )
        elif line.startswith(">"):
            if not draft.choices:
                raise CourseFormatError(number, "the explanation ('> ...') goes after the choices")
            draft.explanation.append(line[1:].strip())
        elif draft.choices:
            raise CourseFormatError(
                number,
                "unexpected text after the choices; start the explanation with '> '",
            )
        else:
            draft.text.append(line.strip())
    if draft:
        questions.append(draft.finish())
    if not questions:
        raise CourseFormatError(_last_line(lines), "the quiz needs at least one question")
    return questions
