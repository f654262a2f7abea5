"""The starter curriculum, and the course format the security team uploads."""

import re
from pathlib import Path

import pytest

from bastion.awareness.curriculum import (
    ChoiceSpec,
    CourseFormatError,
    CourseSpec,
    LessonSpec,
    QuestionSpec,
    load_course,
    parse_course,
    starter_curriculum,
)
from bastion.lib.markdown import render_markdown

STARTER_SLUGS = [
    "acceptable-use",
    "recognising-phishing",
    "suspect-a-security-issue",
    "security-policy-and-consequences",
]


def test_the_four_starter_courses_load_in_order():
    courses = starter_curriculum()
    assert [course.slug for course in courses] == STARTER_SLUGS
    for course in courses:
        assert course.title and course.summary
        assert 10 <= course.duration_minutes <= 20
        assert 1 <= course.pass_mark <= 100
        assert course.shuffle is True


@pytest.mark.parametrize("course", starter_curriculum(), ids=lambda course: course.slug)
def test_each_starter_course_is_complete(course: CourseSpec):
    assert 3 <= len(course.lessons) <= 5
    assert len(course.questions) >= 6
    assert any(question.multiple for question in course.questions)
    for question in course.questions:
        correct = sum(choice.correct for choice in question.choices)
        assert len(question.choices) >= 2
        if question.multiple:
            assert correct >= 1
        else:
            assert correct == 1, question.text
        assert question.explanation, question.text
    for lesson in course.lessons:
        html = render_markdown(lesson.body_markdown)
        assert "[[" not in html and "```" not in html, lesson.title
        assert "Northwind" not in lesson.body_markdown  # the curriculum stays generic


def test_the_phishing_course_has_an_annotated_example():
    course = next(c for c in starter_curriculum() if c.slug == "recognising-phishing")
    examples = [
        render_markdown(lesson.body_markdown)
        for lesson in course.lessons
        if "```phishing-email" in lesson.body_markdown
    ]
    assert len(examples) >= 2  # the fake account warning, and CEO fraud
    most_flags = max(html.count('<mark class="red-flag"') for html in examples)
    assert most_flags >= 5
    for html in examples:
        assert '<figure class="phish-example"' in html
        assert html.count('<mark class="red-flag"') == len(re.findall(r"<li id=", html))


def test_the_reporting_course_uses_placeholders_the_company_can_edit():
    course = next(c for c in starter_curriculum() if c.slug == "suspect-a-security-issue")
    text = "\n".join(lesson.body_markdown for lesson in course.lessons)
    assert "the Report phishing button" in text
    assert "security@" in text


VALID = """\
---
slug: wifi-basics
title: Wi-Fi basics
summary: Which networks to trust.
duration_minutes: 10
pass_mark: 75   # percent
max_attempts:
shuffle: false
---

# Lesson: Trusted networks
Use **home** Wi-Fi or your phone's hotspot.

```
# not a heading: inside a fence
```

# Lesson: Public Wi-Fi
Use the VPN.

# Quiz

## Question (single)
Which network is safest
for company work?
- [ ] Café Wi-Fi
- [x] Your phone's hotspot
> A hotspot is yours.
> Nobody else is on it.

## Question (multiple)
Which are public?
- [x] Airport Wi-Fi
- [X] Hotel Wi-Fi
- [ ] Your home Wi-Fi
"""


def test_parse_course_reads_every_part():
    course = parse_course(VALID)
    assert course == CourseSpec(
        slug="wifi-basics",
        title="Wi-Fi basics",
        summary="Which networks to trust.",
        duration_minutes=10,
        pass_mark=75,
        max_attempts=None,
        shuffle=False,
        lessons=(
            LessonSpec(
                title="Trusted networks",
                body_markdown="Use **home** Wi-Fi or your phone's hotspot.\n\n"
                "```\n# not a heading: inside a fence\n```",
            ),
            LessonSpec(title="Public Wi-Fi", body_markdown="Use the VPN."),
        ),
        questions=(
            QuestionSpec(
                text="Which network is safest\nfor company work?",
                multiple=False,
                choices=(
                    ChoiceSpec("Café Wi-Fi", correct=False),
                    ChoiceSpec("Your phone's hotspot", correct=True),
                ),
                explanation="A hotspot is yours.\nNobody else is on it.",
            ),
            QuestionSpec(
                text="Which are public?",
                multiple=True,
                choices=(
                    ChoiceSpec("Airport Wi-Fi", correct=True),
                    ChoiceSpec("Hotel Wi-Fi", correct=True),
                    ChoiceSpec("Your home Wi-Fi", correct=False),
                ),
                explanation="",
            ),
        ),
    )


def test_parse_course_accepts_windows_line_endings_and_a_bom():
    course = parse_course("\ufeff" + VALID.replace("\n", "\r\n"))
    assert course.slug == "wifi-basics"
    assert len(course.questions) == 2


def test_optional_front_matter_keys_have_defaults():
    text = VALID.replace("max_attempts:\n", "").replace("shuffle: false\n", "")
    course = parse_course(text)
    assert course.max_attempts is None and course.shuffle is True
    assert parse_course(VALID.replace("max_attempts:", "max_attempts: 3")).max_attempts == 3


def line_of(text: str, fragment: str | int) -> int:
    """The number of the last line containing ``fragment`` (or ``fragment`` if a number)."""
    if isinstance(fragment, int):
        return fragment
    return max(i for i, line in enumerate(text.split("\n"), start=1) if fragment in line)


def broken(old: str, new: str) -> str:
    assert old in VALID
    return VALID.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "line_with", "message"),
    [
        pytest.param(
            broken("summary: Which networks to trust.\n", ""),
            8,  # the closing '---' of the front matter
            "the front matter needs a value for 'summary'",
            id="missing-key",
        ),
        pytest.param(
            broken("title: Wi-Fi basics", "title:"),
            "title:",
            "the front matter needs a value for 'title'",
            id="empty-key",
        ),
        pytest.param(
            broken("shuffle: false", "shuffle: false\nauthor: Alice"),
            "author: Alice",
            "unknown front matter key 'author'",
            id="unknown-key",
        ),
        pytest.param(
            broken("pass_mark: 75   # percent", "pass_mark: 0"),
            "pass_mark: 0",
            "pass_mark must be between 1 and 100, not 0",
            id="pass-mark-zero",
        ),
        pytest.param(
            broken("pass_mark: 75   # percent", "pass_mark: 101"),
            "pass_mark: 101",
            "pass_mark must be between 1 and 100, not 101",
            id="pass-mark-over-100",
        ),
        pytest.param(
            broken("duration_minutes: 10", "duration_minutes: 12.5"),
            "duration_minutes: 12.5",
            "duration_minutes must be a whole number, not '12.5'",
            id="duration-fraction",
        ),
        pytest.param(
            broken("duration_minutes: 10", "duration_minutes: -5"),
            "duration_minutes: -5",
            "duration_minutes must be a whole number, not '-5'",
            id="duration-negative",
        ),
        pytest.param(
            broken("duration_minutes: 10", "duration_minutes: 0"),
            "duration_minutes: 0",
            "duration_minutes must be between 1 and 600, not 0",
            id="duration-zero",
        ),
        pytest.param(
            broken("max_attempts:", "max_attempts: many"),
            "max_attempts: many",
            "max_attempts must be a whole number, not 'many'",
            id="max-attempts-text",
        ),
        pytest.param(
            broken("shuffle: false", "shuffle: sometimes"),
            "shuffle: sometimes",
            "shuffle must be true or false, not 'sometimes'",
            id="shuffle-not-boolean",
        ),
        pytest.param(
            broken("slug: wifi-basics", "slug: Wi-Fi Basics"),
            "slug: Wi-Fi Basics",
            "slug must be lower-case letters",
            id="bad-slug",
        ),
        pytest.param(
            broken("slug: wifi-basics", "slug: wifi-basics\nslug: wifi"),
            "slug: wifi",
            "'slug' is given twice",
            id="duplicate-key",
        ),
        pytest.param(
            broken("- [ ] Café Wi-Fi", "- [x] Café Wi-Fi"),
            "## Question (single)",
            "a single-choice question must have exactly one correct choice, not 2",
            id="single-with-two-correct",
        ),
        pytest.param(
            broken("- [x] Your phone's hotspot", "- [ ] Your phone's hotspot"),
            "## Question (single)",
            "the question has no correct choice",
            id="no-correct-choice",
        ),
        pytest.param(
            broken("- [ ] Café Wi-Fi\n", ""),
            "## Question (single)",
            "a question needs at least 2 choices",
            id="one-choice",
        ),
        pytest.param(
            broken("Which are public?\n", ""),
            "## Question (multiple)",
            "the question has no text",
            id="no-question-text",
        ),
        pytest.param(
            broken("## Question (multiple)", "## Question (several)"),
            "## Question (several)",
            "write '## Question (single)' or '## Question (multiple)', not 'several'",
            id="unknown-question-kind",
        ),
        pytest.param(
            broken("- [ ] Your home Wi-Fi", "- [] Your home Wi-Fi"),
            "- [] Your home Wi-Fi",
            "write a choice as '- [x] correct choice'",
            id="malformed-choice",
        ),
        pytest.param(
            broken("- [ ] Your home Wi-Fi", "- [ ] Your home Wi-Fi\nAlso the office Wi-Fi."),
            "Also the office Wi-Fi.",
            "unexpected text after the choices",
            id="text-after-choices",
        ),
        pytest.param(
            broken("# Lesson: Public Wi-Fi", "# Public Wi-Fi"),
            "# Public Wi-Fi",
            "a top-level heading must be '# Lesson: <title>' or '# Quiz'",
            id="stray-top-heading",
        ),
        pytest.param(
            broken("# Quiz\n", ""),
            "Your home Wi-Fi",
            "the course needs a '# Quiz' section",
            id="no-quiz",
        ),
        pytest.param(
            broken("Use the VPN.", "```phishing-email\nFrom: x\n\nno red flag here\n```"),
            "```phishing-email",
            "the ```phishing-email block marks no red flag",
            id="phishing-block-without-flags",
        ),
        pytest.param(
            broken("Use the VPN.", "```phishing-email\nFrom: [[x|y]]\n\n[[half a flag\n```"),
            "[[half a flag",
            "a red flag must be written [[shown text|why it is a red flag]]",
            id="phishing-block-broken-flag",
        ),
        pytest.param(
            broken("Use the VPN.", "~~~~\nunclosed fence"),
            "~~~~",
            "this fenced block is never closed",
            id="unclosed-fence",
        ),
    ],
)
def test_parse_errors_name_the_line(text, line_with, message):
    with pytest.raises(CourseFormatError) as caught:
        parse_course(text)
    expected_line = line_of(text, line_with)
    assert caught.value.line == expected_line
    assert str(caught.value).startswith(f"Line {expected_line}: ")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Line 1: the course must start with front matter"),
        ("# Lesson: Hi\nText\n", "Line 1: the course must start with front matter"),
        ("---\nslug: x\n", "Line 1: the front matter is not closed"),
        (VALID.replace("# Lesson: Trusted networks", "Intro text"), "Line 11: expected '# Lesson"),
        (VALID.split("# Quiz")[0] + "# Quiz\n", "the quiz needs at least one question"),
    ],
)
def test_more_parse_errors(text, message):
    with pytest.raises(CourseFormatError, match=re.escape(message)):
        parse_course(text)


def test_load_course_names_the_file(tmp_path: Path):
    path = tmp_path / "05-broken.md"
    path.write_text(VALID.replace("pass_mark: 75   # percent", "pass_mark: 150"), encoding="utf-8")
    with pytest.raises(CourseFormatError) as caught:
        load_course(path)
    assert str(caught.value) == (
        "Line 6: pass_mark must be between 1 and 100, not 150 (in 05-broken.md)"
    )
