"""The plan as PDF with its approval page: what it shows, and who may download which version.

Laying out the whole starter plan takes a few seconds, so one test renders it for real (the
bytes through the page, the text from the laid-out document); the others read the HTML the PDF
is made from, or (for the role rules) count on the view's renderer being swapped for that HTML.
"""

import copy

import pytest

from bastion.accounts.models import Role
from bastion.awareness.certificate import document_text
from bastion.response import actions, pdf, pdf_views
from bastion.response.models import PlanVersion
from conftest import ALL_ROLES

from .conftest import approve_all, draft, person

ALL_VERSION_READERS = {Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.EXECUTIVE, Role.AUDITOR}


def url(number: int) -> str:
    return f"/plan/versions/{number}/plan.pdf"


@pytest.fixture
def staffed(plan, lead, ceo, counsel, make_user) -> PlanVersion:
    """Version 1 with an incident commander and a deputy, approved after a first round the CEO
    approved before an edit (so one decision names an older hash), and acknowledged by one of
    the two employees who must read it."""
    ines = person("Ines", "Commander", title="CISO")
    dan = person("Dan", "Deputy", title="Security Engineer")
    content = copy.deepcopy(draft(plan).content)
    commander = next(r for r in content["roles"] if r["key"] == "incident_commander")
    commander["holders"] = [{"person": ines.pk, "deputy": dan.pk}]
    actions.do_save_draft(acting_user=lead, plan=plan, content=content)
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    first = draft(plan)
    actions.do_decide(acting_user=ceo, plan=plan, version_number=1, content_hash=first.content_hash,
                      decision="approved")
    content["sections"][0]["body"] += "\n\nReviewed with the executive team."
    actions.do_save_draft(acting_user=lead, plan=plan, content=content)  # invalidates the CEO's approval
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    version = approve_all(plan, ceo, counsel)
    assert version.status == "published"
    reader = make_user(Role.EMPLOYEE, person=person("Rita", "Reader"))
    make_user(Role.EMPLOYEE, person=person("Nils", "Notyet"))
    actions.do_acknowledge(version=version, person=reader.person, acting_user=reader)
    return version


@pytest.mark.django_db
def test_the_lead_downloads_the_plan_with_its_approval_page(client_for, lead, staffed):
    response = client_for(lead).get(url(1))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="incident-response-plan-version-1.pdf"'
    assert response.content.startswith(b"%PDF-")

    # No PDF text extractor in the venv: read the text WeasyPrint laid out on the pages.
    document = pdf.plan_document(staffed)
    assert len(document.pages) >= 10
    text = " ".join(document_text(document).split())
    assert text.startswith("INCIDENT RESPONSE PLAN Incident response plan Plan Incident response plan Version 1 "
                           "Status Published Published ")
    assert f"Content hash SHA-256 {staffed.content_hash}" in text
    assert "Contents" in text and "Notification matrix" in text
    # Sections, roles with holders and deputies by name, playbooks, the matrix in words, calendars.
    assert "Reviewed with the executive team." in text
    assert "Ines Commander (CISO) Dan Deputy (Security Engineer)" in text
    assert "Ransomware and destructive malware" in text and "Expected duration" in text
    assert "Corporate liability is possible" in text
    assert "1 hour from corporate liability being flagged as possible" in text
    assert "Source: 45 CFR 164.404" in text
    assert "America/New_York" in text
    # The approval page, last: both approvers on this hash, the CEO's earlier approval on another.
    approval = text[text.rindex("Approval Version 1 of this plan"):]
    assert "Carla Chief carla@example.com Approved" in approval
    assert "Gina Counsel gina@example.com Approved" in approval
    assert approval.count("Matches") == 2 and approval.count("Does not match") == 1
    assert "No longer stands: The content changed after this decision." in approval
    assert "1 of 2 required readers has acknowledged this version" in approval
    assert f"Page {len(document.pages)} of {len(document.pages)}" in text


@pytest.mark.django_db
def test_approval_page_of_a_draft_names_whom_it_waits_for(plan, lead, ceo, staffed):
    actions.do_save_draft(acting_user=lead, plan=plan, content=dict(staffed.content, title="Plan 2027"))
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    version = draft(plan)
    actions.do_decide(acting_user=ceo, plan=plan, version_number=2, content_hash=version.content_hash,
                      decision="changes_requested", comment="Add the new Dublin office.")
    html = pdf.plan_html(version)
    assert "Plan 2027" in html and "Not published" in html and "it is not the plan in force" in html
    assert "Changes requested" in html and "Add the new Dublin office." in html
    assert "Waiting for the decision of: Gina Counsel." in html
    assert "Acknowledgements" not in html


@pytest.mark.django_db
def test_readers_get_the_approvals_that_put_the_plan_in_force_only(staffed):
    full, reader = pdf.plan_html(staffed), pdf.plan_html(staffed, full_record=False)
    assert full.count("Matches") == 2 and "Does not match" in full and "required readers" in full
    assert reader.count("Matches") == 2 and "Does not match" not in reader
    assert "Carla Chief" in reader and "Gina Counsel" in reader and staffed.content_hash in reader
    assert "required reader" not in reader and "No longer stands" not in reader


@pytest.mark.django_db
def test_text_in_the_plan_is_escaped_and_markdown_sanitised(plan, lead):
    content = copy.deepcopy(draft(plan).content)
    content["title"] = "<b>Bold</b> plan"
    content["sections"][0]["body"] = "**Strong** <script>alert(1)</script> ![x](https://evil.example/x.png)"
    version = actions.do_save_draft(acting_user=lead, plan=plan, content=content)
    html = pdf.plan_html(version)
    assert "&lt;b&gt;Bold&lt;/b&gt; plan" in html and "<b>Bold</b>" not in html
    assert "<strong>Strong</strong>" in html and "<script>" not in html
    assert "evil.example" not in html


@pytest.fixture
def html_instead_of_pdf(monkeypatch):
    """The view's renderer swapped for the HTML it would lay out (the role tests need what the
    user gets, not seven layouts of the whole plan)."""
    def fake(version, *, full_record=True) -> bytes:
        return b"%PDF-as-html\n" + pdf.plan_html(version, full_record=full_record).encode()

    monkeypatch.setattr(pdf_views, "render_plan_pdf", fake)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_download_by_role(role, client_for, make_user, plan, lead, published, html_instead_of_pdf):
    actions.do_save_draft(acting_user=lead, plan=plan, content=dict(published.content, title="Next year's plan"))
    client = client_for(make_user(role))
    in_force = client.get(url(1))
    assert in_force.status_code == 200
    assert in_force["Content-Disposition"] == 'attachment; filename="incident-response-plan-version-1.pdf"'
    body = in_force.content.decode()
    assert "Carla Chief" in body and published.content_hash in body
    assert ("required reader" in body) is (role in ALL_VERSION_READERS)
    working = client.get(url(2))
    if role in ALL_VERSION_READERS:
        assert working.status_code == 200 and "Next year&#x27;s plan" in working.content.decode()
    else:
        assert working.status_code == 404
    assert client.get(url(3)).status_code == 404


def test_anonymous_is_sent_to_sign_in(client, published, html_instead_of_pdf):
    for number in (1, 2):
        response = client.get(url(number))
        assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


@pytest.mark.django_db
def test_a_reader_cannot_download_a_draft(client_for, make_user, plan, html_instead_of_pdf):
    employee = client_for(make_user(Role.EMPLOYEE))
    assert employee.get(url(1)).status_code == 404  # version 1 is still a draft
    assert client_for(make_user(Role.AUDITOR)).get(url(1)).status_code == 200


def test_durations_in_words():
    assert [pdf.duration_words(m) for m in (None, 45, 60, 90, 120, 1440, 2880)] == [
        "—", "45 min", "1 h", "1 h 30 min", "2 h", "1 day", "2 days"]


def test_a_version_number_past_any_column_is_not_found(client_for, lead, published):
    client = client_for(lead)
    assert client.get("/plan/versions/99999999999999999999/plan.pdf").status_code == 404
    assert client.get("/plan/versions/2147483648/plan.pdf").status_code == 404
    assert client.get("/plan/versions/99999999999999999999/").status_code == 404
