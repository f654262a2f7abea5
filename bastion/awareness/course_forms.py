"""Forms of the security team's course authoring, images and policies. Each checks everything
before an action is called: course text is parsed (a mistake names its line), an image is
opened with Pillow, a slug is free."""

import io
import warnings

from django import forms
from django.core.validators import validate_slug

from .curriculum import CourseFormatError, CourseSpec, parse_course
from .models import Course, Policy

MAX_COURSE_BYTES = 1024 * 1024
MAX_IMAGE_BYTES = 2 * 1024 * 1024
MAX_IMAGE_SIDE = 10_000
# Pillow's format name → the Content-Type the image is served with.
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}

COURSE_TEMPLATE = """---
slug: my-new-course
title: My new course
summary: One sentence on what the learner will be able to do.
duration_minutes: 10
pass_mark: 80
---

# Lesson: The first lesson
Write the lesson in Markdown: **bold**, lists, links, and images uploaded on the
Images page, e.g. ![What it shows](/awareness/images/1/).

# Lesson: The second lesson
Use `##` headings inside a lesson.

# Quiz

## Question (single)
Which choice is right?
- [x] The right choice
- [ ] A wrong choice
> An explanation, shown after answering.

## Question (multiple)
Which two are right?
- [x] Right
- [x] Also right
- [ ] Wrong
"""


def format_error(error: CourseFormatError) -> str:
    return f"Line {error.line}: {error.message}"


# A policy is read by everyone; a text longer than this is a mistake, not a policy.
POLICY_MAX_CHARS = 200_000


class CourseSourceForm(forms.Form):
    """Course text, typed or uploaded as a .md/.txt file (the file wins when both are given)."""

    source = forms.CharField(
        label="Course text", required=False, strip=False,
        widget=forms.Textarea(attrs={"rows": 28, "spellcheck": "true", "class": "source"}),
        help_text="Front matter between '---' lines, then '# Lesson: …' sections, then '# Quiz'.")
    file = forms.FileField(
        label="Or upload the course as a file (.md or .txt, UTF-8)", required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".md,.txt,text/markdown,text/plain"}))

    def __init__(self, *args, course: Course | None = None, publishable: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.course = course
        if course is None and publishable:
            self.fields["publish"] = forms.BooleanField(
                label="Publish version 1 now (otherwise it is saved as a draft)", required=False)
        self.spec: CourseSpec | None = None
        self.error_line: int | None = None

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        text = cleaned.get("source") or ""
        if upload:
            if not (upload.name or "").lower().endswith((".md", ".txt", ".markdown")):
                self.add_error("file", "Upload a .md or .txt file with the course text.")
                return cleaned
            if upload.size > MAX_COURSE_BYTES:
                self.add_error("file", "The file is larger than 1 MB; a course is text and much smaller.")
                return cleaned
            try:
                text = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                self.add_error("file", "The file is not UTF-8 text.")
                return cleaned
        if not text.strip():
            self.add_error("source", "Write the course text or upload it as a file.")
            return cleaned
        if len(text.encode()) > MAX_COURSE_BYTES:
            self.add_error("source", "The course text is larger than 1 MB.")
            return cleaned
        try:
            spec = parse_course(text)
        except CourseFormatError as error:
            self.add_error("source" if not upload else "file", format_error(error))
            self.error_line = error.line
            return cleaned
        if self.course is None and Course.objects.filter(slug=spec.slug).exists():
            self.add_error("source", f"A course with the slug {spec.slug!r} exists already: edit that "
                                     "course, or choose another slug.")
        elif self.course is not None and spec.slug != self.course.slug:
            self.add_error("source", f"The slug must stay {self.course.slug!r}: a course keeps its slug "
                                     "across versions.")
        cleaned["source"] = text
        self.spec = spec
        return cleaned


class ImageUploadForm(forms.Form):
    image = forms.FileField(
        label="Image (PNG, JPEG, GIF or WebP, up to 2 MB)",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}))

    def clean_image(self):
        upload = self.cleaned_data["image"]
        if upload.size > MAX_IMAGE_BYTES:
            raise forms.ValidationError(
                f"The image is {upload.size / 1024 / 1024:.1f} MB; the limit is 2 MB. Make it smaller first.")
        data = upload.read()
        from PIL import Image, UnidentifiedImageError

        refused = forms.ValidationError(
            "This file is not a PNG, JPEG, GIF or WebP image (or it is damaged). Other files are refused.")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as opened:
                    kind, width, height = opened.format, opened.width, opened.height
                    opened.verify()
                # verify() leaves the image unusable: open again and decode it to be sure.
                with Image.open(io.BytesIO(data)) as opened:
                    opened.load()
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise refused from None
        except (OSError, SyntaxError, ValueError, EOFError):
            raise refused from None
        if kind not in IMAGE_TYPES:
            raise refused
        if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
            raise forms.ValidationError(f"The image is {width}×{height} pixels; at most "
                                        f"{MAX_IMAGE_SIDE} on each side.")
        return {"name": (upload.name or "image")[:200], "content_type": IMAGE_TYPES[kind], "data": data,
                "width": width, "height": height}


# --- policies ------------------------------------------------------------------------------


class PolicyForm(forms.Form):
    title = forms.CharField(max_length=200)
    slug = forms.CharField(max_length=80, validators=[validate_slug],
                           help_text="A short name for links, e.g. acceptable-use.")
    body = forms.CharField(label="Text (Markdown)", widget=forms.Textarea(attrs={"rows": 20}), strip=False,
                           max_length=POLICY_MAX_CHARS)

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"].strip().lower()
        if Policy.objects.filter(slug=slug).exists():
            raise forms.ValidationError(f"A policy with the slug {slug!r} exists already.")
        return slug

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        if not body.strip():
            raise forms.ValidationError("The policy needs a text.")
        return body


class PolicyVersionForm(forms.Form):
    body = forms.CharField(label="New text (Markdown)", widget=forms.Textarea(attrs={"rows": 20}), strip=False,
                           max_length=POLICY_MAX_CHARS)
    summary_of_changes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What changed, in a sentence or two: people see it when asked to acknowledge again.")

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        if not body.strip():
            raise forms.ValidationError("The policy needs a text.")
        return body
