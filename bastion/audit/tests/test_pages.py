import csv
import io
import re
from datetime import UTC, datetime

import pytest

from bastion.accounts.models import Role
from bastion.audit import chain
from bastion.audit.models import AuditEntry
from conftest import ALL_ROLES

from .helpers import disable_append_only, entries, raw_delete, raw_set_after

pytestmark = pytest.mark.django_db

READERS = (Role.SECURITY_LEAD, Role.AUDITOR)


def main(response) -> str:
    """The page's own content, without the header that names the signed-in person."""
    return response.content.decode().split('<main id="main"', 1)[1]


def seqs_on(response) -> list[int]:
    return [int(s) for s in re.findall(r'<a href="/audit/(\d+)/" aria-label="Entry', response.content.decode())]


@pytest.fixture
def auditor(make_user):
    return make_user(Role.AUDITOR, email="audrey@example.com")


@pytest.mark.parametrize("role", ALL_ROLES)
def test_audit_pages_by_role(client_for, make_user, role):
    entries(1)
    browser = client_for(make_user(role))
    expected = 200 if role in READERS else 403
    assert browser.get("/audit/").status_code == expected
    assert browser.get("/audit/1/").status_code == expected
    assert browser.get("/audit/export.csv").status_code == expected
    assert browser.post("/audit/verify/").status_code == expected


@pytest.mark.parametrize("url", ["/audit/", "/audit/1/", "/audit/export.csv"])
def test_anonymous_is_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == f"/login/?next={url}"
    assert client.post("/audit/verify/")["Location"].startswith("/login/")


def test_the_trail_is_read_only(client_for, auditor):
    entries(1)
    browser = client_for(auditor)
    for url in ("/audit/", "/audit/1/", "/audit/export.csv"):
        assert browser.post(url).status_code == 405
    assert browser.get("/audit/verify/").status_code == 405
    assert AuditEntry.objects.get(seq=1).action == "test.event"


def test_newest_first_fifty_a_page(client_for, auditor, django_assert_max_num_queries):
    entries(120)
    browser = client_for(auditor)
    with django_assert_max_num_queries(6):
        first = browser.get("/audit/")
    assert first.status_code == 200
    assert seqs_on(first) == list(range(120, 70, -1))
    assert "Newer" not in main(first)
    older = browser.get("/audit/?before=71")
    assert seqs_on(older) == list(range(70, 20, -1))
    last = browser.get("/audit/?before=21")
    assert seqs_on(last) == list(range(20, 0, -1))
    assert "Older" not in main(last) and "Newer" in main(last)
    back = browser.get("/audit/?after=20")
    assert seqs_on(back) == list(range(70, 20, -1))
    assert browser.get("/audit/?before=garbage").status_code == 200  # ignored, first page


def test_query_count_does_not_grow_with_the_page(client_for, auditor, django_assert_max_num_queries):
    entries(5)
    browser = client_for(auditor)
    browser.get("/audit/")
    entries(100, actor_label="carol@example.com")
    with django_assert_max_num_queries(6):
        assert browser.get("/audit/?actor=carol").status_code == 200
    with django_assert_max_num_queries(6):
        assert browser.get("/audit/?before=60").status_code == 200


def test_each_entry_shows_who_what_when_and_the_change(client_for, make_user, lead):
    bob = make_user(Role.SECURITY_TEAM, email="bob@example.com")
    client_for(lead).post(f"/accounts/users/{bob.pk}/", {"full_name": bob.full_name, "role": "auditor",
                                                        "is_active": "on"})
    entry = AuditEntry.objects.get(action="user.role_changed")
    html = main(client_for(lead).get("/audit/"))
    row = html.split(f'aria-label="Entry {entry.seq}"', 1)[1].split("</tr>", 1)[0]
    assert "alice@example.com" in row
    assert "<code>user.role_changed</code>" in row
    assert f"accounts.user #{bob.pk}" in row and "Security Team" in row
    assert "<code>role</code>: <del><span class=\"sr-only\">was </span>security_team</del>" in row
    assert "<ins><span class=\"sr-only\">now </span>auditor</ins>" in row


def test_values_are_escaped(client_for, auditor):
    chain.record("test.xss", actor_label="<b>mallory</b>", object_repr="<img src=x onerror=alert(1)>",
                 after={"name": "<script>alert(1)</script>"})
    for url in ("/audit/", "/audit/1/"):
        html = main(client_for(auditor).get(url))
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>mallory" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_times_are_shown_in_the_viewers_zone(client_for, make_user, monkeypatch):
    monkeypatch.setattr(chain.timezone, "now", lambda: datetime(2026, 1, 15, 23, 30, tzinfo=UTC))
    entries(1)
    monkeypatch.undo()
    paris = make_user(Role.AUDITOR, time_zone="Europe/Paris")
    assert "16 Jan 2026 00:30:00 CET" in main(client_for(paris).get("/audit/"))
    utc = make_user(Role.AUDITOR)
    assert "15 Jan 2026 23:30:00 UTC" in main(client_for(utc).get("/audit/"))
    # Date filters are whole days in the viewer's zone too.
    assert seqs_on(client_for(paris).get("/audit/?date_from=2026-01-16&date_to=2026-01-16")) == [1]
    assert seqs_on(client_for(utc).get("/audit/?date_from=2026-01-16")) == []
    assert seqs_on(client_for(utc).get("/audit/?date_to=2026-01-15")) == [1]


def test_filters(client_for, auditor):
    chain.record("login.failed", actor_label="bob@example.com", object_type="accounts.user", object_id="7")
    chain.record("login.succeeded", actor_label="carol@example.com", object_type="accounts.user", object_id="8")
    chain.record("logout", actor_label="carol@example.com", object_type="accounts.user", object_id="8")
    chain.record("token.created", actor_label="cli", object_type="accounts.apitoken", object_id="8")
    browser = client_for(auditor)
    assert seqs_on(browser.get("/audit/?action=login")) == [2, 1]
    assert seqs_on(browser.get("/audit/?action=login.failed")) == [1]
    assert seqs_on(browser.get("/audit/?actor=CAROL")) == [3, 2]
    assert seqs_on(browser.get("/audit/?object_type=accounts.user&object_id=8")) == [3, 2]
    assert seqs_on(browser.get("/audit/?object_type=accounts.apitoken")) == [4]
    assert seqs_on(browser.get("/audit/?action=login&actor=carol")) == [2]
    response = browser.get("/audit/?action=nothing")
    assert "No entries match these filters." in main(response)
    # The filters stay in the form and in the paging links.
    assert 'value="carol"' in main(browser.get("/audit/?actor=carol"))


@pytest.mark.parametrize("query, message", [
    ("date_from=yesterday", "“From” must be a date written YYYY-MM-DD"),
    ("date_to=2026-13-45", "“To” must be a date written YYYY-MM-DD"),
    ("date_from=2026-02-01&date_to=2026-01-01", "“To” is before “From”"),
    ("date_to=9999-12-31", "Choose a date between 1900 and 9000"),
    ("date_from=0001-01-01", "Choose a date between 1900 and 9000"),
    ("action=" + "x" * 101, "Ensure this value has at most 100 characters"),
])
def test_bad_filters_get_a_clear_message_not_an_error(client_for, auditor, query, message):
    entries(1)
    response = client_for(auditor).get(f"/audit/?{query}")
    assert response.status_code == 400
    html = main(response)
    assert message in html
    assert "Some filters are not valid, so nothing is listed" in html
    assert seqs_on(response) == []
    export = client_for(auditor).get(f"/audit/export.csv?{query}")
    assert export.status_code == 400 and message in export.content.decode()


def test_detail_page(client_for, auditor):
    entries(2)
    browser = client_for(auditor)
    entry = AuditEntry.objects.get(seq=1)
    html = main(browser.get("/audit/1/"))
    assert entry.hash in html and entry.prev_hash in html
    assert "&quot;n&quot;: 0" in html
    assert 'href="/audit/2/"' in html
    assert browser.get("/audit/99/").status_code == 404


def test_verify_button_reports_intact_then_names_the_broken_entry(client_for, auditor):
    entries(4)
    browser = client_for(auditor)
    response = browser.post("/audit/verify/")
    assert response.status_code == 200
    assert "Intact." in main(response) and "All 4 entries were verified" in main(response)
    recorded = AuditEntry.objects.get(action="audit.verified")
    assert recorded.actor_id == auditor.pk and recorded.after["intact"] is True

    disable_append_only()
    raw_set_after(2, {"n": "changed"})
    html = main(browser.post("/audit/verify/"))
    assert "The audit trail is broken:" in html
    assert "entry #2 was altered after it was written" in html
    assert "1 entry was verified before it" in html


def test_verify_names_a_missing_entry(client_for, lead):
    entries(5)
    disable_append_only()
    raw_delete(3)
    html = main(client_for(lead).post("/audit/verify/"))
    assert "entry #3 is missing (next entry found is #4)" in html


def test_csv_export_is_filtered_and_defuses_formulas(client_for, auditor):
    chain.record("test.csv", actor_label="=HYPERLINK(\"http://evil\")", object_repr="+SUM(A1)",
                 after={"x": 1})
    chain.record("test.csv", actor_label="@calc", object_repr="-2+3", before={"a": "b"})
    chain.record("other.thing", actor_label="plain")
    response = client_for(auditor).get("/audit/export.csv?action=test.")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["seq", "at (UTC)", "actor", "action"]
    assert [r[0] for r in rows[1:]] == ["2", "1"]
    assert rows[1][2] == "'@calc" and rows[1][6] == "'-2+3" and rows[1][7] == '{"a": "b"}'
    assert rows[2][2] == "'=HYPERLINK(\"http://evil\")" and rows[2][6] == "'+SUM(A1)"
    exported = AuditEntry.objects.get(action="audit.exported")
    assert exported.actor_id == auditor.pk and exported.after == {"action": "test."}
