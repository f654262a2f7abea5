"""Templates, SMTP URLs and domains: the rules a form or the API will rely on."""

import pytest
from django.core.exceptions import ValidationError

from bastion.phishing.actions import do_declare_domain, spread
from bastion.phishing.models import PhishingTemplate, SendingProfile, mask_smtp_url, outside_domains

pytestmark = pytest.mark.django_db

VALUES = {"first_name": "Ann", "last_name": "O'Brien", "manager": "Mona", "department": "R&D",
          "link": "https://b.example/p/c/T/", "report_link": "https://b.example/p/r/T/",
          "pixel": "https://b.example/p/o/T.gif"}


def test_rendering_puts_values_in_once_escaping_html_only():
    t = PhishingTemplate(name="t", from_name="IT", subject="{{ first_name }} {{last_name}}",
                         body_text="{{department}} {{link}}{{pixel}}",
                         body_html="<p>{{department}}</p><a href=\"{{link}}\">x</a>{{pixel}}")
    subject, text, html = t.render({**VALUES, "first_name": "<b>{{link}}</b>"})
    assert subject == "<b>{{link}}</b> O'Brien"  # a value is never expanded again
    assert text == "R&D https://b.example/p/c/T/"
    assert "<p>R&amp;D</p>" in html and 'href="https://b.example/p/c/T/"' in html
    assert html.endswith('<img src="https://b.example/p/o/T.gif" width="1" height="1" alt="">')


def test_unknown_placeholders_and_missing_link_are_refused_by_name():
    t = PhishingTemplate(name="t", from_name="IT", subject="{{firstname}}", body_text="Hi {{ceo}}")
    with pytest.raises(ValidationError) as err:
        t.full_clean()
    messages = err.value.message_dict
    assert "Unknown placeholder(s): {{firstname}}" in messages["subject"][0]
    assert any("{{ceo}}" in m for m in messages["body_text"])
    assert any("needs a {{link}}" in m for m in messages["body_text"])


def test_difficulty_cues_and_red_flags_are_checked():
    t = PhishingTemplate(name="t", from_name="IT", subject="s", body_text="{{link}}", difficulty=6,
                         cues=["urgency", "magic"], red_flags=[{"flag": "x"}])
    with pytest.raises(ValidationError) as err:
        t.full_clean()
    assert set(err.value.message_dict) == {"difficulty", "cues", "red_flags"}


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "ftp://x", "smtp://host:notaport", "mail.example"])
def test_smtp_url_must_be_smtp_or_smtps(url):
    profile = SendingProfile(name="p", smtp_url=url, from_address="it@example.com")
    with pytest.raises(ValidationError, match="SMTP URL"):
        profile.full_clean()


def test_the_smtp_password_is_never_shown_back():
    profile = SendingProfile(name="p", smtp_url="smtps://me:pa%40ss@mail.example:465", from_address="a@example.com")
    profile.full_clean()
    assert profile.masked_url == "smtps://me:********@mail.example:465"
    assert "pa" not in repr(profile) and "pa%40ss" not in str(profile)
    assert profile.password == "pa@ss"
    assert mask_smtp_url("smtp://mail.example:25") == "smtp://mail.example:25"


def test_domains_and_subdomains():
    assert outside_domains(["a@example.com", "b@eu.example.com", "c@notexample.com", "d@EXAMPLE.COM"],
                           {"example.com"}) == ["c@notexample.com"]
    with pytest.raises(ValueError, match="not a mail domain"):
        do_declare_domain("someone@example.com", None)
    assert do_declare_domain(" Example.COM. ", None).domain == "example.com"


def test_spread_is_even_from_the_start():
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert spread(start, 60, 4) == [start + timedelta(minutes=15 * i) for i in range(4)]
    assert spread(start, 0, 3) == [start] * 3
