"""Markdown written by the security team (lessons, course summaries), rendered to safe HTML.

Python-Markdown with ``tables``, ``fenced_code`` and ``sane_lists``. Raw HTML is never
passed through: Markdown's HTML handling is switched off, so ``<b>`` typed in a lesson shows as
text, and the output is cleaned by nh3 against an explicit allow-list as a second line of
defence. No ``style`` attribute survives (our CSP forbids inline styles: use classes).

One extension of our own: a fenced block ``phishing-email`` showing an example email as it
would arrive, with its red flags marked and explained::

    ```phishing-email
    From: "Microsoft 365" <no-reply@[[micros0ft-support.com|Zero instead of an o]]>
    Subject: [[Act now|Urgency pushes you to act before you think]]

    Dear [[user|A colleague would use your name]],
    ```

Header lines run until the first blank line, then the body. ``[[shown text|why]]`` marks a red
flag anywhere. Everything in the block is text, never HTML.
"""

import hashlib
import html
import re
from html.parser import HTMLParser
from typing import Any

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown.preprocessors import Preprocessor

PHISHING_LANGUAGE = "phishing-email"

_FENCE_OPEN = re.compile(r"^(?P<fence>`{3,}|~{3,})[ \t]*phishing-email[ \t]*$")
_FLAG = re.compile(r"\[\[(?P<shown>.*?)\|(?P<why>.*?)\]\]")
_HEADER = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9-]*):[ \t]?(?P<value>.*)$")
# Ids we generate in phishing blocks; any other id is dropped by the sanitiser.
_OUR_ID = re.compile(r"^phish-[0-9a-f]{8}-\d+-(flag|why)-\d+$")
# Images are uploads served by Bastion: a path on this site ("/..."), never "//host/...".
_LOCAL_PATH = re.compile(r"^/(?![/\\])[^\s\\]*$")

_TAGS = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr",
    "ul", "ol", "li", "dl", "dt", "dd",
    "a", "em", "strong", "code", "pre", "blockquote",
    "table", "thead", "tbody", "tr", "th", "td",
    "img", "figure", "figcaption", "div", "span", "mark", "sup",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "mark": {"id"},
    "li": {"id"},
    "ol": {"start"},
    "figure": {"aria-label"},
}
_ALIGN = {"align": {"left", "center", "right"}}
_CLASSES = {
    "figure": {"phish-example"},
    "div": {"phish-email", "phish-body"},
    "dl": {"phish-headers"},
    "mark": {"red-flag"},
    "p": {"red-flags-title"},
    "ol": {"red-flags"},
    "span": {"sr-only"},
    "a": {"red-flag-ref", "red-flag-back"},
}


def render_markdown(text: str) -> SafeString:
    """Render author-written Markdown as sanitised HTML, safe to put in a template as is."""
    md = markdown.Markdown(
        extensions=["tables", "fenced_code", "sane_lists", _PhishingEmailExtension()],
        extension_configs={"tables": {"use_align_attribute": True}},
        output_format="html",
    )
    # Raw HTML is text: "<script>" in a lesson is shown, escaped, not interpreted.
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    return mark_safe(_sanitise(md.convert(text or "")))  # noqa: S308 - cleaned by nh3 above


def render_markdown_text(text: str) -> str:
    """Render author-written Markdown as plain text (for the text part of an email).

    Paragraphs and list items on their own lines, links as ``text (address)``, images as their
    alt text, red flags of a phishing example as ``shown text [n]`` followed by the list."""
    converter = _PlainText()
    converter.feed(str(render_markdown(text)))
    converter.close()
    return converter.result()


def phishing_block_problems(text: str) -> list[tuple[int, str]]:
    """Mistakes in the ``phishing-email`` blocks of ``text``: (1-based line number, message).

    Rendering tolerates them (a malformed ``[[...]]`` shows as written); a course upload
    reports them so the author can fix the example."""
    problems: list[tuple[int, str]] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE_OPEN.match(lines[index])
        if not opening:
            index += 1
            continue
        end = _closing_fence(lines, index + 1, opening["fence"])
        if end == len(lines):
            problems.append((index + 1, "the ```phishing-email block is never closed"))
        flags = 0
        for number in range(index + 1, end):
            line = lines[number]
            flags += len(_FLAG.findall(line))
            rest = _FLAG.sub("", line)
            if "[[" in rest or "]]" in rest:
                problems.append(
                    (
                        number + 1,
                        "a red flag must be written [[shown text|why it is a red flag]] "
                        "on one line",
                    )
                )
            for match in _FLAG.finditer(line):
                if not match["shown"].strip() or not match["why"].strip():
                    problems.append(
                        (number + 1, "a red flag needs both the shown text and the reason")
                    )
        if flags == 0:
            problems.append((index + 1, "the ```phishing-email block marks no red flag"))
        index = end + 1
    return problems


def _closing_fence(lines: list[str], start: int, fence: str) -> int:
    closing = re.compile("^" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$")
    for number in range(start, len(lines)):
        if closing.match(lines[number]):
            return number
    return len(lines)


def _sanitise(rendered: str) -> str:
    return nh3.clean(
        rendered,
        tags=_TAGS,
        clean_content_tags={"script", "style"},
        attributes=_ATTRIBUTES,
        tag_attribute_values={"th": _ALIGN, "td": _ALIGN},
        attribute_filter=_attribute_filter,
        allowed_classes=_CLASSES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "id":
        return value if _OUR_ID.match(value) else None
    if tag == "img" and attribute == "src":
        return value if _LOCAL_PATH.match(value) else None
    return value


# --- the phishing-email block ---------------------------------------------------------------


class _PhishingEmailExtension(markdown.Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 - Markdown's API
        # After whitespace normalisation (30), before fenced code (25) would take the block.
        md.preprocessors.register(_PhishingEmailPreprocessor(md), "phishing_email", 27)


class _PhishingEmailPreprocessor(Preprocessor):
    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        index = 0
        block_number = 0
        while index < len(lines):
            opening = _FENCE_OPEN.match(lines[index])
            if not opening:
                out.append(lines[index])
                index += 1
                continue
            end = _closing_fence(lines, index + 1, opening["fence"])
            block_number += 1
            block = lines[index + 1 : end]
            rendered = _render_phishing_email(block, block_number)
            out.extend(["", self.md.htmlStash.store(rendered), ""])
            index = end + 1
        return out


class _Flags:
    """Numbers the red flags of one example in order of appearance."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.reasons: list[tuple[str, str]] = []  # (shown text, why)

    def markup(self, text: str) -> str:
        """Escape ``text``, turning each ``[[shown|why]]`` into a numbered mark."""
        parts: list[str] = []
        position = 0
        for match in _FLAG.finditer(text):
            parts.append(html.escape(text[position : match.start()]))
            shown, why = match["shown"].strip(), match["why"].strip()
            self.reasons.append((shown, why))
            number = len(self.reasons)
            parts.append(
                f'<mark class="red-flag" id="{self.prefix}-flag-{number}">{html.escape(shown)}'
                f'<sup><a class="red-flag-ref" href="#{self.prefix}-why-{number}">'
                f'<span class="sr-only">red flag </span>{number}</a></sup></mark>'
            )
            position = match.end()
        parts.append(html.escape(text[position:]))
        return "".join(parts)


def _render_phishing_email(block: list[str], block_number: int) -> str:
    digest = hashlib.sha256("\n".join(block).encode()).hexdigest()[:8]
    flags = _Flags(f"phish-{digest}-{block_number}")

    while block and not block[0].strip():
        block = block[1:]
    headers: list[tuple[str, str]] = []
    index = 0
    while index < len(block) and block[index].strip():
        header = _HEADER.match(block[index])
        if header:
            headers.append((header["name"], header["value"]))
        elif headers:  # a folded header line continues the one above
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {block[index].strip()}")
        else:  # no headers at all: it is all body
            break
        index += 1

    paragraphs: list[list[str]] = []
    current: list[str] = []
    for line in block[index:]:
        if line.strip():
            current.append(line.rstrip())
        elif current:
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)

    parts = ['<figure class="phish-example" aria-label="Example message with its red flags">']
    parts.append('<div class="phish-email">')
    if headers:
        parts.append('<dl class="phish-headers">')
        for name, value in headers:
            parts.append(f"<dt>{html.escape(name)}</dt><dd>{flags.markup(value)}</dd>")
        parts.append("</dl>")
    if paragraphs:
        parts.append('<div class="phish-body">')
        for paragraph in paragraphs:
            parts.append("<p>" + "<br>".join(flags.markup(line) for line in paragraph) + "</p>")
        parts.append("</div>")
    parts.append("</div>")
    if flags.reasons:
        parts.append('<figcaption><p class="red-flags-title">Red flags</p><ol class="red-flags">')
        for number, (shown, why) in enumerate(flags.reasons, start=1):
            parts.append(
                f'<li id="{flags.prefix}-why-{number}">'
                f'<a class="red-flag-back" href="#{flags.prefix}-flag-{number}">'
                f"“{html.escape(shown)}”</a>: {html.escape(why)}</li>"
            )
        parts.append("</ol></figcaption>")
    parts.append("</figure>")
    return "".join(parts)


# --- plain text -----------------------------------------------------------------------------


class _PlainText(HTMLParser):
    _BLOCKS = {
        "p", "div", "figure", "figcaption", "blockquote", "pre", "table", "tr",
        "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "dt", "hr",
    }  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.lists: list[list[Any]] = []  # per open list: [ordered, next number]
        self.hrefs: list[str | None] = []
        self.in_sup = False
        self.in_pre = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in self._BLOCKS or tag == "br":
            self.out.append("\n\n" if tag in ("p", "ul", "ol", "pre", "table", "dl") else "\n")
        if tag in ("ul", "ol"):
            self.lists.append([tag == "ol", int(attributes.get("start") or 1)])
        elif tag == "li":
            indent = "  " * max(len(self.lists) - 1, 0)
            if self.lists and self.lists[-1][0]:
                self.out.append(f"\n{indent}{self.lists[-1][1]}. ")
                self.lists[-1][1] += 1
            else:
                self.out.append(f"\n{indent}- ")
        elif tag == "a":
            self.hrefs.append(attributes.get("href"))
        elif tag == "img":
            self.out.append(attributes.get("alt") or "")
        elif tag == "sup":
            self.in_sup = True
            self.out.append(" [")
        elif tag in ("td", "th"):
            self.out.append("| ")
        elif tag == "pre":
            self.in_pre = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            self.out.append("\n")
        elif tag == "a" and self.hrefs:
            href = self.hrefs.pop()
            if href and not href.startswith("#") and not self.in_sup:
                self.out.append(f" ({href.removeprefix('mailto:')})")
        elif tag == "sup":
            self.in_sup = False
            self.out.append("]")
        elif tag == "dt":
            self.out.append(": ")
        elif tag in ("td", "th"):
            self.out.append(" ")
        elif tag == "tr":
            self.out.append("|")
        elif tag in self._BLOCKS:
            self.in_pre = self.in_pre and tag != "pre"
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if data == "red flag " and self.in_sup:  # screen-reader text only
            return
        if not data.strip() and "\n" in data and not self.in_pre:  # layout between tags
            return
        self.out.append(data)

    def result(self) -> str:
        text = "".join(self.out)
        text = re.sub(r"[ \t]+\n", "\n", text)
        text = re.sub(r"\n{3,}", "\n\n", text)
        return text.strip() + "\n"
