"""Security headers on every page, no inline script anywhere, argon2 and cookie flags."""

import os
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from bastion.accounts.models import Role
from bastion.audit.chain import record
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

_CONVERTER = re.compile(r"<(?:(\w+):)?\w+>")
_SAMPLE = {"int": "1", "str": "x", "slug": "x", "path": "x", "uuid": "00000000-0000-0000-0000-000000000001", None: "x"}


def every_url() -> list[str]:
    """Every route the project serves, with sample values for its parameters."""
    urls: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            route = str(p.pattern)
            if route.startswith("^"):  # a regular expression route: none today
                continue
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + route)
            elif isinstance(p, URLPattern):
                urls.append("/" + _CONVERTER.sub(lambda m: _SAMPLE.get(m.group(1), "x"), prefix + route))

    walk(get_resolver().url_patterns, "")
    return sorted(set(urls))


class InlineCode(HTMLParser):
    """Finds what a strict CSP would block: inline scripts, event handlers, style elements and attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = {name for name, _ in attrs}
        kind = dict(attrs).get("type") or ""
        if tag == "script" and "src" not in names and kind not in ("application/json", "application/ld+json"):
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        if "style" in names:
            self.problems.append(f"style attribute on <{tag}>")
        self.problems += [f"{n} handler on <{tag}>" for n in names if n.startswith("on")]
        if any((v or "").strip().lower().startswith("javascript:") for _, v in attrs):
            self.problems.append(f"javascript: URL on <{tag}>")


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.problems


def assert_secure_headers(response, url: str) -> None:
    csp = response.get("Content-Security-Policy", "")
    assert csp, f"{url}: no Content-Security-Policy"
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, f"{url}: {csp}"
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, f"{url}: {csp}"
    assert response.get("X-Frame-Options") == "DENY", url
    assert response.get("X-Content-Type-Options") == "nosniff", url
    assert response.get("Referrer-Policy") == "same-origin", url


@pytest.fixture
def browsers(client_for, make_user, lead):
    entry = record("test.event", actor_label="system")  # so /audit/1/ exists
    assert entry.seq == 1
    return {
        "anonymous": Client(),
        "security lead": client_for(lead),
        "employee": client_for(make_user(Role.EMPLOYEE)),
    }


def test_the_url_walk_finds_the_pages():
    urls = every_url()
    for expected in ("/login/", "/login/mfa/", "/account/", "/accounts/users/1/", "/audit/", "/audit/1/"):
        assert expected in urls
    assert len(urls) > 20


@pytest.mark.parametrize("who", ["anonymous", "security lead", "employee"])
def test_every_page_carries_the_security_headers_and_no_inline_code(browsers, who):
    browser = browsers[who]
    for url in every_url():
        if url in ("/logout/",):
            continue  # GET is refused anyway; POSTing it would end the session mid-walk
        response = browser.get(url)  # a view that raises fails the test here
        assert_secure_headers(response, url)
        if response.get("Content-Type", "").startswith("text/html") and not response.streaming:
            problems = inline_code(response.content.decode())
            assert not problems, f"{url} as {who}: {problems}"


def test_error_pages_carry_the_headers_too(browsers):
    for url, who, status in [("/no-such-page/", "anonymous", 404), ("/audit/", "employee", 403),
                             ("/logout/", "anonymous", 405), ("/api/v1/me", "anonymous", 401)]:
        response = browsers[who].get(url)
        assert response.status_code == status
        assert_secure_headers(response, url)


def test_login_page_has_no_inline_script(client):
    html = client.get("/login/").content.decode()
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and all(" src=" in s for s in scripts)
    assert re.search(r"<script\b[^>]*>\s*[^<\s]", html) is None  # no code between script tags
    assert inline_code(html) == []


def test_passwords_are_hashed_with_argon2(make_user):
    user = make_user(Role.SECURITY_TEAM)
    assert user.password.startswith("argon2$argon2id$")
    assert PASSWORD not in user.password


def test_session_and_csrf_cookies_are_http_only(client, make_user, no_mfa_policy):
    make_user(Role.SECURITY_TEAM, email="bob@example.com")
    client.get("/login/")
    response = client.post("/login/", {"email": "bob@example.com", "password": PASSWORD})
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["max-age"] == ""  # ends with the browser, and after 8 hours at most on the server
    csrf = Client(enforce_csrf_checks=True).get("/login/").cookies["csrftoken"]
    assert csrf["httponly"] is True


def test_https_install_sets_secure_cookies_and_hsts(tmp_path):
    env = {**os.environ, "BASTION_BASE_URL": "https://bastion.example.com", "BASTION_VAR_DIR": str(tmp_path),
           "BASTION_SECRET_KEY": "k" * 50}
    code = ("from bastion import settings as s; "
            "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS >= 31536000)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["True", "True", "True"], out.stderr
