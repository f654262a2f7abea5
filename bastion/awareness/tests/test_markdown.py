"""Lesson Markdown: what the security team writes is shown safely, and the phishing example
shows its red flags with numbered explanations."""

import re
from html.parser import HTMLParser

import pytest

from bastion.lib.markdown import phishing_block_problems, render_markdown, render_markdown_text

PHISHING = """\
Read this email.

```phishing-email
From: "Microsoft 365" <no-reply@[[micros0ft-support.com|The sender's domain misspells Microsoft with a zero]]>
To: you@northwind.example
Subject: [[Action required: your mailbox will be deleted in 24 hours|Urgency and a threat push you to act before you think]]
Date: Mon, 9 Nov 2026 07:42

Dear [[user|A real colleague would use your name]],
Your mailbox is full.

[[Verify your account now|The link text hides an address that is not Microsoft's]]
```

Then answer the questions.
"""


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """The real elements of ``html`` (tag, attributes): what a browser would build."""
    found: list[tuple[str, dict[str, str | None]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, dict(attrs)))

    Collector().feed(html)
    return found


def assert_harmless(html: str) -> None:
    for tag, attrs in elements(html):
        assert tag not in {"script", "style", "iframe", "object", "embed", "form", "input"}, tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert name != "style", tag
            if name in ("href", "src"):
                assert re.match(r"^(https?:|mailto:|/(?![/\\])|#)", value or ""), value


def test_markdown_basics_render():
    html = render_markdown(
        "## Lock your screen\n\nPress **Windows + L**, *every* time.\n\n"
        "- one\n- two\n\n1. first\n2. second\n\n> quoted\n\n`code`\n\n---\n\n"
        "| Key | Action |\n|:----|-------:|\n| L | lock |\n"
    )
    assert "<h2>Lock your screen</h2>" in html
    assert "<strong>Windows + L</strong>" in html
    assert "<em>every</em>" in html
    assert "<ul>" in html and "<ol>" in html and "<blockquote>" in html
    assert "<code>code</code>" in html and "<hr>" in html
    assert '<th align="left">Key</th>' in html and '<td align="right">lock</td>' in html
    assert "style=" not in html  # table alignment must not need inline styles (CSP)


def test_script_tags_are_shown_as_text_not_run():
    html = render_markdown("Hello <script>alert('x')</script>\n\n<script>\nalert(1)\n</script>")
    assert "<script" not in html
    assert_harmless(html)
    assert "&lt;script&gt;" in html


def test_raw_html_is_escaped():
    html = render_markdown(
        '<div class="phish-example">fake</div>\n\nA <b>bold</b> <iframe src="x">'
    )
    assert "<div" not in html and "<b>" not in html and "<iframe" not in html
    assert [tag for tag, _ in elements(html)] == ["p", "p"]
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_event_handlers_and_style_attributes_are_removed():
    html = render_markdown(
        '<img src="/awareness/images/1/" onerror="alert(1)">\n\n'
        '<p style="color:red" onclick="alert(1)">x</p>\n\n'
        '![ok](/awareness/images/1/ "title")'
    )
    # What the author typed as HTML is shown as text; nothing of it becomes an element.
    assert_harmless(html)
    assert [tag for tag, _ in elements(html)] == ["p", "p", "p", "img"]
    assert '<img alt="ok" src="/awareness/images/1/" title="title">' in html


@pytest.mark.parametrize(
    "link",
    [
        "[click](javascript:alert(1))",
        "[click](JavaScript:alert(1))",
        "[click](&#106;avascript:alert(1))",
        "[click](data:text/html;base64,PHNjcmlwdD4=)",
        "[click](vbscript:msgbox)",
        "<javascript:alert(1)>",
    ],
)
def test_dangerous_links_lose_their_address(link):
    html = render_markdown(link)
    assert_harmless(html)
    assert all("href" not in attrs for _, attrs in elements(html))


def test_safe_links_keep_their_address_and_get_rel():
    html = render_markdown(
        "[policy](https://intranet.example/policy) [home](/awareness/) "
        "[mail](mailto:security@yourcompany.example)"
    )
    assert '<a href="https://intranet.example/policy" rel="noopener noreferrer">policy</a>' in html
    assert '<a href="/awareness/" rel="noopener noreferrer">home</a>' in html
    assert 'href="mailto:security@yourcompany.example"' in html


@pytest.mark.parametrize(
    "src",
    [
        "https://tracker.example/pixel.gif",
        "//tracker.example/pixel.gif",
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
    ],
)
def test_images_only_from_this_site(src):
    html = render_markdown(f"![pixel]({src})")
    assert "src=" not in html
    assert 'alt="pixel"' in html


def test_uploaded_images_are_allowed():
    html = render_markdown("![The Report phishing button](/awareness/images/12/)")
    assert '<img alt="The Report phishing button" src="/awareness/images/12/">' in html


def test_phishing_email_renders_headers_body_and_numbered_red_flags():
    html = render_markdown(PHISHING)

    assert html.count('<figure class="phish-example"') == 1
    assert "<p>Read this email.</p>" in html and "<p>Then answer the questions.</p>" in html
    headers = re.search(r'<dl class="phish-headers">(.*?)</dl>', html).group(1)
    assert re.findall(r"<dt>(.*?)</dt>", headers) == ["From", "To", "Subject", "Date"]
    assert "<dd>you@northwind.example</dd>" in headers
    assert "<dd>Mon, 9 Nov 2026 07:42</dd>" in headers
    assert "&quot;Microsoft 365&quot; &lt;no-reply@<mark" in headers or (
        '"Microsoft 365" &lt;no-reply@<mark' in headers
    )
    body = re.search(r'<div class="phish-body">(.*?)</div>', html).group(1)
    assert "Your mailbox is full." in body and body.count("<p>") == 2

    marks = re.findall(
        r'<mark class="red-flag" id="([\w-]+)">(.*?)<sup><a class="red-flag-ref" '
        r'href="#([\w-]+)"[^>]*><span class="sr-only">red flag </span>(\d+)</a></sup></mark>',
        html,
    )
    assert [(shown, number) for _, shown, _, number in marks] == [
        ("micros0ft-support.com", "1"),
        ("Action required: your mailbox will be deleted in 24 hours", "2"),
        ("user", "3"),
        ("Verify your account now", "4"),
    ]
    reasons = re.search(
        r'<figcaption><p class="red-flags-title">Red flags</p><ol class="red-flags">(.*?)</ol>',
        html,
    ).group(1)
    items = re.findall(
        r'<li id="([\w-]+)"><a class="red-flag-back" href="#([\w-]+)"[^>]*>“(.*?)”</a>: (.*?)</li>',
        reasons,
    )
    assert [why for *_, why in items] == [
        "The sender's domain misspells Microsoft with a zero",
        "Urgency and a threat push you to act before you think",
        "A real colleague would use your name",
        "The link text hides an address that is not Microsoft's",
    ]
    # Each number links to its explanation, and each explanation links back to its mark.
    for (mark_id, _, why_href, _), (why_id, mark_href, _, _) in zip(marks, items, strict=True):
        assert why_href == why_id
        assert mark_href == mark_id
    assert len({mark_id for mark_id, *_ in marks}) == 4
    assert "[[" not in html and "]]" not in html and "```" not in html


def test_author_text_in_the_phishing_block_is_escaped():
    html = render_markdown(
        "```phishing-email\n"
        'From: <script>alert(1)</script> <a href="javascript:x">[[<b>ceo</b>|Why <img src=x onerror=alert(1)>]]</a>\n'
        "\n"
        '**not bold** <style>body{}</style> [[click <i>here</i>|it\'s "fake" & bad]]\n'
        "```\n"
    )
    assert_harmless(html)
    assert {tag for tag, _ in elements(html)} == {
        "figure", "div", "dl", "dt", "dd", "p", "mark", "sup", "a", "span", "figcaption", "ol", "li"
    }  # fmt: skip
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;ceo&lt;/b&gt;" in html
    assert "**not bold**" in html  # the body is text as written, not Markdown
    assert "it's &quot;fake&quot; &amp; bad" in html or 'it\'s "fake" &amp; bad' in html


def test_two_examples_on_one_page_have_distinct_anchors():
    html = render_markdown(PHISHING + "\n" + PHISHING.replace("user", "customer"))
    ids = re.findall(r'id="([\w-]+)"', html)
    assert len(ids) == 16 and len(set(ids)) == 16


def test_phishing_block_without_headers_is_all_body():
    html = render_markdown(
        "```phishing-email\nYour parcel is waiting: [[pay 1.45 now|A small fee is bait]]\n```"
    )
    assert "<dl" not in html
    assert '<div class="phish-body"><p>Your parcel is waiting: <mark' in html


def test_phishing_block_problems_name_the_line():
    text = "Intro\n\n```phishing-email\nFrom: x\n\nA [[broken flag\n[[|no text]]\n```\n"
    assert phishing_block_problems(text) == [
        (6, "a red flag must be written [[shown text|why it is a red flag]] on one line"),
        (7, "a red flag needs both the shown text and the reason"),
    ]
    assert phishing_block_problems("```phishing-email\nFrom: x\n\nno flags\n```") == [
        (1, "the ```phishing-email block marks no red flag")
    ]
    assert phishing_block_problems(PHISHING) == []


def test_plain_text_rendering_for_emails():
    text = render_markdown_text(
        "## Report it\n\nUse **the Report phishing button** or [email us](mailto:security@x.example)."
        "\n\n- one\n- two\n\n<script>x</script>\n\n" + PHISHING
    )
    assert "Report it\n\nUse the Report phishing button or email us (security@x.example)." in text
    assert "- one\n- two" in text
    assert "<script>x</script>" in text  # text, shown as the author typed it
    assert "Subject: Action required: your mailbox will be deleted in 24 hours [2]" in text
    assert "Dear user [3]," in text
    assert (
        "Red flags\n\n1. “micros0ft-support.com”: The sender's domain misspells Microsoft with a zero"
        in text
    )
    assert "<" not in text.replace("<script>x</script>", "").replace("<no-reply@", "")
