"""The post-incident review: closing needs it completed or the security lead's waiver with a reason;
the deviations are reviewed with "should the plan change?"; action items with owners and due dates
are reminded once per due date by email through a real SMTP server."""

from datetime import date, timedelta

from django.utils import timezone

from bastion.accounts.models import Role
from bastion.audit.models import AuditEntry
from bastion.incidents import actions, review
from bastion.incidents.actions import DeviationReason
from bastion.incidents.models import ActionItem, Incident

from .conftest import T0, person

JSON = "application/json"
WHY = "The bank's fraud line was closed; we froze the account through the relationship manager instead."


def _declare(lead, now=None, **fields):
    now = now or timezone.now()
    return actions.do_declare(acting_user=lead, now=now, title="CEO fraud", summary="A fake invoice was paid.",
                              detected_at=now - timedelta(hours=1), reported_by="Accounts payable",
                              type_key="business_email_compromise", **fields)


def _to_recovery(lead, incident):
    for status in ("triage", "containment", "eradication", "recovery"):
        incident = actions.do_change_status(acting_user=lead, incident=incident, status=status)
    return incident


def problems(response) -> list[str]:
    assert response.status_code == 422, response.content
    return [e["msg"] for e in response.json()["detail"]]


def review_body(**fields) -> dict:
    values = {"root_cause": "A spoofed supplier domain and no call-back check on changed bank details.",
              "what_worked": "Accounts payable reported within the hour; the bank recalled half.",
              "what_did_not": "The bank's fraud line was unreachable at night.",
              "plan_should_change": True, "plan_changes": "Add the relationship manager as the night contact.",
              "action_items": [{"title": "Call-back check on every bank detail change", "owner": "olga@example.com",
                                "due_date": "2026-04-01"}],
              "complete": True}
    values.update(fields)
    return values


def test_closing_needs_the_review_completed(published, lead, api_for):
    person("Olga", "Owner")
    api = api_for(lead)
    incident = _to_recovery(lead, _declare(lead))
    step = incident.steps.filter(required=True).first()
    actions.do_skip_step(acting_user=lead, incident=incident, step_key=step.step_key, deviation=DeviationReason(
        WHY, lead.person if lead.person else person("Dana", "Decider"), timezone.now() - timedelta(minutes=5)))
    close = {"status": "closed"}
    assert problems(api.post(f"/api/v1/incidents/{incident.pk}/status", close, content_type=JSON)) == [
        "Complete the post-incident review, or have the security lead waive it with a reason, before closing."]
    url = f"/api/v1/incidents/{incident.pk}/review"
    empty = api.get(url).json()
    assert (empty["completed_at"], empty["allows_closing"], empty["action_items"]) == (None, False, [])
    assert [d["explanation"] for d in empty["deviations"]] == [WHY]  # the deviations, for the review
    # A draft saves; completing needs every part.
    assert api.put(url, review_body(complete=False, what_worked="", plan_should_change=None),
                   content_type=JSON).status_code == 200
    assert problems(api.put(url, review_body(what_worked="", plan_should_change=None), content_type=JSON)) == [
        "Say what worked to complete the review.",
        "Having reviewed the deviations, say whether the plan should change."]
    assert problems(api.put(url, review_body(plan_changes=""), content_type=JSON)) == [
        "Say what should change in the plan."]
    assert problems(api.put(url, review_body(action_items=[{"title": "x", "owner": "nobody@example.com",
                                                             "due_date": "2026-04-01"}]), content_type=JSON)) == [
        "Nobody in the directory has the address 'nobody@example.com'."]
    response = api.put(url, review_body(), content_type=JSON)
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["allows_closing"] and data["completed_by"] == "alice@example.com"
    assert [(a["title"], a["owner"], a["due_date"], a["status"]) for a in data["action_items"]] == [
        ("Call-back check on every bank detail change", "olga@example.com", "2026-04-01", "open")]
    assert incident.timeline.filter(kind="review").last().text == (
        "Post-incident review completed: 1 action item; the plan should change: "
        "Add the relationship manager as the night contact.")
    assert api.post(f"/api/v1/incidents/{incident.pk}/status", close, content_type=JSON).status_code == 200
    # Closed: the review stands; its action items can still be marked done.
    assert problems(api.put(url, review_body(root_cause="Something else."), content_type=JSON)) == [
        "The incident is closed; its review stands (action items can still be marked done)."]
    item = data["action_items"][0]["id"]
    done = api.post(f"{url}/items/{item}", {"status": "done"}, content_type=JSON)
    assert done.status_code == 200 and done.json()["status"] == "done" and done.json()["done_at"]
    assert api.post(f"{url}/items/999999", {"status": "done"}, content_type=JSON).status_code == 404


def test_the_lead_may_waive_the_review_with_a_reason(published, lead, make_user, api_for):
    incident = _declare(lead)
    team = api_for(make_user(Role.SECURITY_TEAM))
    url = f"/api/v1/incidents/{incident.pk}/review/waive"
    reason = {"reason": "A false positive: the 'invoice' was a phishing test of our own."}
    assert team.post(url, reason, content_type=JSON).status_code == 403
    api = api_for(lead)
    assert problems(api.post(url, {"reason": "no"}, content_type=JSON)) == [
        "Explain why the review is waived (at least 40 characters)."]
    response = api.post(url, reason, content_type=JSON)
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["waived_by"], data["waiver_reason"], data["allows_closing"]) == (
        "alice@example.com", reason["reason"], True)
    assert data["waived_at"]
    assert problems(api.post(url, reason, content_type=JSON)) == ["The review is already waived."]
    assert AuditEntry.objects.filter(action="incident.review_waived").count() == 1
    assert api.post(f"/api/v1/incidents/{incident.pk}/status", {"status": "closed"},
                    content_type=JSON).status_code == 200
    assert Incident.objects.get(pk=incident.pk).status == "closed"


def test_who_may_read_write_and_waive_the_review(published, lead, make_user, api_for):
    incident = _declare(lead)
    secret = _declare(lead, restricted=True)
    for role, read, write, waive in [
            (Role.SECURITY_TEAM, 200, 200, 403), (Role.EXECUTIVE, 200, 403, 403), (Role.AUDITOR, 200, 403, 403),
            (Role.BUSINESS_LEADER, 403, 403, 403), (Role.MANAGER, 403, 403, 403), (Role.EMPLOYEE, 403, 403, 403)]:
        client = api_for(make_user(role))
        url = f"/api/v1/incidents/{incident.pk}/review"
        assert client.get(url).status_code == read, role
        assert client.put(url, review_body(complete=False, action_items=[]), content_type=JSON).status_code == write
        assert client.post(f"{url}/waive", {"reason": "x" * 50}, content_type=JSON).status_code == waive, role
        if read == 200:
            assert client.get(f"/api/v1/incidents/{secret.pk}/review").status_code == 404, role
            assert client.post(f"/api/v1/incidents/{secret.pk}/review/waive", {"reason": "x" * 50},
                               content_type=JSON).status_code == 404, role
    other_lead = api_for(make_user(Role.SECURITY_LEAD))  # a lead who is not a member
    assert other_lead.post(f"/api/v1/incidents/{secret.pk}/review/waive", {"reason": "x" * 50},
                           content_type=JSON).status_code == 404


def test_action_items_are_reminded_once_per_due_date(published, lead, smtp_server, run_tasks,
                                                     django_capture_on_commit_callbacks):
    olga, piet = person("Olga", "Owner"), person("Piet", "Other")
    incident = _declare(lead, now=T0)
    due = date(2026, 3, 10)
    review.do_save_review(
        acting_user=lead, incident=incident, now=T0, root_cause="r", what_worked="w", what_did_not="d",
        plan_should_change=False, plan_changes="", complete=True, action_items=[
            review.ActionItemInput(title="Call-back checks", owner=olga, due_date=due),
            review.ActionItemInput(title="Already done", owner=piet, due_date=due, status="done")])
    capture = django_capture_on_commit_callbacks

    def run(now) -> int:
        with capture(execute=True):
            reminded = review.remind_due_action_items(now)
        run_tasks()
        return reminded

    assert run(T0 + timedelta(days=7)) == 0  # 9 March: not yet due
    assert run(T0 + timedelta(days=8)) == 1  # 10 March
    assert run(T0 + timedelta(days=9)) == 0  # once per due date
    assert [m["To"] for m in smtp_server.messages] == ["olga@example.com"]
    message = smtp_server.messages[0]
    assert message["Subject"] == "Action item due 2026-03-10: Call-back checks"
    assert "Hello Olga," in message.get_body(("plain",)).get_content()
    # The due date moved: reminded again on the new date.
    item = ActionItem.objects.get(title="Call-back checks")
    review.do_save_review(
        acting_user=lead, incident=incident, now=T0 + timedelta(days=9), root_cause="r", what_worked="w",
        what_did_not="d", plan_should_change=False, plan_changes="", complete=True, action_items=[
            review.ActionItemInput(id=item.pk, title="Call-back checks", owner=olga, due_date=date(2026, 3, 20))])
    assert ActionItem.objects.count() == 1  # the item not listed was removed
    assert run(T0 + timedelta(days=10)) == 0
    assert run(T0 + timedelta(days=18)) == 1
    review.do_set_action_item_status(acting_user=lead, item=item, status="done", now=T0 + timedelta(days=18))
    item.refresh_from_db()
    review.do_save_review(
        acting_user=lead, incident=incident, now=T0 + timedelta(days=19), root_cause="r", what_worked="w",
        what_did_not="d", plan_should_change=False, plan_changes="", complete=True, action_items=[
            review.ActionItemInput(id=item.pk, title="Call-back checks", owner=olga, due_date=date(2026, 3, 30),
                                   status="done")])
    assert run(T0 + timedelta(days=40)) == 0  # done: no reminder
    assert len(smtp_server.messages) == 2
