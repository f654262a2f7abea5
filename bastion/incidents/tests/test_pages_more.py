"""The incident page's status updates (sent, corrected by a new linked update, never edited), the
post-incident review (saved with action items, completed) and its waiver (the security lead
only), and the dossier's downloads through the session (404 for a non-member of a restricted
incident), all through the HTTP client."""

import html
import json
import re
from datetime import timedelta

from django.utils import timezone

from bastion.accounts.models import Role
from bastion.incidents import actions
from bastion.incidents.models import Incident, PostIncidentReview, StatusUpdate

from .conftest import person


def _text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def local_input(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def declare(user, **fields) -> Incident:
    return actions.do_declare(acting_user=user, title="Fake invoice paid", summary="A look-alike supplier email.",
                              detected_at=timezone.now() - timedelta(hours=1), reported_by="Accounts payable",
                              type_key="business_email_compromise", **fields)


def update_form(**fields) -> dict:
    values = {"what_happened": "A fake invoice was paid to a fraudster.", "containment": "The bank recalls it.",
              "impact": "One payment of EUR 20,000.", "confidence": "medium", "unknowns": "Whether it comes back.",
              "next_update_at": local_input(timezone.now() + timedelta(hours=3)), "audiences": ["executives"]}
    values.update(fields)
    return values


def test_sending_an_update_and_correcting_it_from_the_page(published, lead, client_for):
    incident = declare(lead)
    client = client_for(lead)
    page = _text(client.get(f"/incidents/{incident.pk}/"))
    assert "No status update has been sent." in page and f"/incidents/{incident.pk}/updates/new/" in page

    refused = client.post(f"/incidents/{incident.pk}/updates/new/", update_form(impact="", audiences=[]))
    assert refused.status_code == 400 and not StatusUpdate.objects.exists()

    response = client.post(f"/incidents/{incident.pk}/updates/new/", update_form())
    assert response.status_code == 302
    first = StatusUpdate.objects.get()
    assert (first.number, first.audiences, first.recipient_count) == (1, ["executives"], 2)
    page = _text(client.get(f"/incidents/{incident.pk}/"))
    assert "Update 1" in page and "One payment of EUR 20,000." in page
    assert f"/incidents/{incident.pk}/updates/new/?corrects={first.pk}" in page
    assert "Correct this update" in page

    form = _text(client.get(f"/incidents/{incident.pk}/updates/new/?corrects={first.pk}"))
    assert "Correct status update 1" in form and "One payment of EUR 20,000." in form
    assert f'name="corrects" value="{first.pk}"' in form
    response = client.post(f"/incidents/{incident.pk}/updates/new/",
                           update_form(impact="One payment of EUR 200,000, not 20,000.", corrects=first.pk))
    assert response.status_code == 302
    correction = StatusUpdate.objects.get(number=2)
    assert correction.corrects == first
    first.refresh_from_db()
    assert first.impact == "One payment of EUR 20,000."  # the sent update stands as sent
    page = _text(client.get(f"/incidents/{incident.pk}/"))
    assert "Update 2 — correcting update 1" in re.sub(r"<[^>]+>", "", page) and "EUR 200,000, not 20,000" in page

    # An update of another incident cannot be "corrected" from this one; readers cannot send.
    other = declare(lead)
    response = client.post(f"/incidents/{other.pk}/updates/new/", update_form(corrects=first.pk))
    assert response.status_code == 400 and StatusUpdate.objects.count() == 2
    auditor = client_for(lead.__class__.objects.create_user(email="aud@example.com", password="x" * 16,
                                                            role=Role.AUDITOR, full_name="Aud"))
    assert auditor.post(f"/incidents/{incident.pk}/updates/new/", update_form()).status_code == 403
    assert "Correct this update" not in _text(auditor.get(f"/incidents/{incident.pk}/"))


def review_form(items: list[dict], initial: int = 0, **fields) -> dict:
    values: dict = {"root_cause": "A look-alike domain and no call-back on changed bank details.",
                    "what_worked": "Accounts payable reported within the hour.",
                    "what_did_not": "The bank's fraud line was closed at night.", "plan_should_change": "yes",
                    "plan_changes": "Add the bank's night contact.", "complete": "on",
                    "items-TOTAL_FORMS": str(len(items)), "items-INITIAL_FORMS": str(initial),
                    "items-MIN_NUM_FORMS": "0", "items-MAX_NUM_FORMS": "200"}
    for n, item in enumerate(items):
        values |= {f"items-{n}-{k}": v for k, v in item.items()}
    values.update(fields)
    return {k: v for k, v in values.items() if v is not None}


def test_the_review_is_saved_with_action_items_and_completed_from_the_page(published, lead, client_for):
    person("Olga", "Owner", "olga@example.com")
    incident = declare(lead)
    client = client_for(lead)
    assert "Write the review" in _text(client.get(f"/incidents/{incident.pk}/"))
    blank = {"title": "", "owner": "", "due_date": "", "status": "open"}
    item = {"title": "Call-back check on bank detail changes", "owner": "olga@example.com",
            "due_date": "2026-12-01", "status": "open"}

    refused = client.post(f"/incidents/{incident.pk}/review/", review_form([item, blank], root_cause=""))
    assert refused.status_code == 400
    assert "Give the root cause (or what is known of it) to complete the review." in _text(refused)
    assert not PostIncidentReview.objects.exists()

    response = client.post(f"/incidents/{incident.pk}/review/", review_form([item, blank]))
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.review.completed_at is not None and incident.review.completed_by == lead
    saved = incident.review.action_items.get()
    assert (saved.title, saved.owner.email, str(saved.due_date)) == (item["title"], "olga@example.com", "2026-12-01")
    page = _text(client.get(f"/incidents/{incident.pk}/review/"))
    assert "Completed" in page and item["title"] in page
    assert "Completed" in _text(client.get(f"/incidents/{incident.pk}/"))
    # Re-saving keeps the item by its id and marks it done.
    response = client.post(f"/incidents/{incident.pk}/review/", review_form(
        [{**item, "id": str(saved.pk), "status": "done"}], initial=1))
    assert response.status_code == 302
    saved.refresh_from_db()
    assert saved.status == "done" and incident.review.action_items.count() == 1
    # The incident may now close.
    for status in ("triage", "containment", "eradication", "recovery", "closed"):
        assert client.post(f"/incidents/{incident.pk}/status/", {"status": status}).status_code == 302
    assert Incident.objects.get(pk=incident.pk).status == "closed"


def test_only_the_security_lead_waives_the_review(published, lead, make_user, client_for):
    incident = declare(lead)
    reason = {"reason": "A false alarm: the invoice was genuine; there is nothing to learn from a review."}
    for role in (Role.SECURITY_TEAM, Role.EXECUTIVE, Role.AUDITOR):
        client = client_for(make_user(role))
        assert "Waive the review" not in _text(client.get(f"/incidents/{incident.pk}/review/"))
        assert client.post(f"/incidents/{incident.pk}/review/waive/", reason).status_code == 403
    client = client_for(lead)
    assert "Waive the review" in _text(client.get(f"/incidents/{incident.pk}/review/"))
    refused = client.post(f"/incidents/{incident.pk}/review/waive/", {"reason": "Not needed."})
    assert refused.status_code == 400 and "Explain why the review is waived" in _text(refused)
    assert client.post(f"/incidents/{incident.pk}/review/waive/", reason).status_code == 302
    incident.refresh_from_db()
    assert incident.review.waived_by == lead and incident.review.allows_closing
    assert "Waived" in _text(client.get(f"/incidents/{incident.pk}/"))


def test_dossier_downloads_for_the_lead_and_404_for_a_non_member(published, lead, make_user, client_for):
    incident = declare(lead, restricted=True, members=[lead])
    client = client_for(lead)
    page = _text(client.get(f"/incidents/{incident.pk}/"))
    assert f"/incidents/{incident.pk}/dossier.pdf" in page and f"/incidents/{incident.pk}/dossier.json" in page

    response = client.get(f"/incidents/{incident.pk}/dossier.json")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="inc-{incident.pk}-dossier.json"'
    data = json.loads(response.content)
    assert data["incident"]["reference"] == incident.reference and data["timeline"]["verification"]["ok"]
    response = client.get(f"/incidents/{incident.pk}/dossier.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")

    outsider = client_for(make_user(Role.SECURITY_TEAM))
    for url in ("dossier.json", "dossier.pdf", "review/", "updates/new/"):
        assert outsider.get(f"/incidents/{incident.pk}/{url}").status_code == 404, url
    assert outsider.post(f"/incidents/{incident.pk}/review/waive/", {"reason": "x" * 50}).status_code == 404
    assert client_for(None).get(f"/incidents/{incident.pk}/dossier.json").status_code == 302
