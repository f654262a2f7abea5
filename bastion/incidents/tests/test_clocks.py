"""Every clock a rule of the plan can count from is recordable on an incident (page and API), and
recording one re-runs the rules: the ransom payment makes the starter plan's ransom-paid rule due
24 hours after the payment, for Legal, the executive sponsor and the insurer."""

import html
import re
from datetime import timedelta

from django.utils import timezone

from bastion.incidents import actions
from bastion.incidents.forms import FactsForm
from bastion.incidents.models import DERIVED_CLOCKS, Incident
from bastion.response.content import CLOCKS
from bastion.response.starter import starter_content

JSON = "application/json"


def _text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def _declare(lead) -> Incident:
    return actions.do_declare(acting_user=lead, title="Ransomware on the file servers",
                              summary="Encrypted shares in Finance; a ransom note.",
                              detected_at=timezone.now() - timedelta(days=3), reported_by="EDR", type_key="ransomware",
                              facts={"ransom_demanded": True})


def _clocks_of(deadline: dict) -> set[str]:
    return {deadline["clock"]} | (_clocks_of(deadline["no_later_than"]) if "no_later_than" in deadline else set())


def test_every_clock_the_starter_rules_use_can_be_recorded(published, lead):
    used = set().union(*(_clocks_of(rule["deadline"]) for rule in starter_content()["rules"]))
    assert "ransom_payment" in used and used <= set(CLOCKS)
    form = FactsForm(incident=_declare(lead))
    recordable = {name.removeprefix("clock_") for name in form.fields if name.startswith("clock_")}
    # The incident's own detection and declaration times are the rest.
    assert used <= recordable | set(DERIVED_CLOCKS)
    assert recordable | set(DERIVED_CLOCKS) == set(CLOCKS)


def test_the_ransom_payment_makes_the_ransom_rule_due_through_the_api(published, lead, api_for):
    incident = _declare(lead)
    assert not incident.notifications.filter(rule_key="ransom-paid").exists()
    api = api_for(lead)
    # Paid, but when is not known yet: the rule waits for its clock.
    answer = api.patch(f"/api/v1/incidents/{incident.pk}", {"facts": {"ransom_paid": True}}, content_type=JSON)
    assert answer.status_code == 200
    rows = incident.notifications.filter(rule_key="ransom-paid").order_by("recipient_key")
    assert [(r.recipient_key, r.status, r.deadline) for r in rows] == [
        ("external:Cyber insurance carrier", "pending", None), ("role:executive_sponsor", "pending", None),
        ("role:legal", "pending", None)]
    # A payment in the future is refused.
    future = (timezone.now() + timedelta(hours=3)).isoformat()
    answer = api.patch(f"/api/v1/incidents/{incident.pk}", {"clocks": {"ransom_payment": future}}, content_type=JSON)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["msg"].startswith("The clock 'ransom_payment' is in the future")
    # Recorded: due 24 hours after the payment, for all three.
    paid = (timezone.now() - timedelta(hours=5)).replace(microsecond=0)
    answer = api.patch(f"/api/v1/incidents/{incident.pk}", {"clocks": {"ransom_payment": paid.isoformat()}},
                       content_type=JSON)
    assert answer.status_code == 200
    assert answer.json()["clocks"]["ransom_payment"].startswith(paid.strftime("%Y-%m-%dT%H:%M:%S"))
    assert {(r.status, r.deadline) for r in rows.all()} == {("due", paid + timedelta(hours=24))}
    texts = list(incident.timeline.order_by("seq").values_list("text", flat=True))
    assert any(t.startswith("Changed: clocks ") and "ransom_payment=" in t for t in texts)
    assert any("Ransom paid: executive sponsor, Legal, insurer → Legal (General Counsel): due by" in t for t in texts)


def test_the_ransom_payment_is_recorded_on_the_page(published, lead, client_for):
    incident = _declare(lead)
    client = client_for(lead)
    page = _text(client.get(f"/incidents/{incident.pk}/"))
    assert "Time of the payment of a ransom" in page
    paid = timezone.localtime(timezone.now() - timedelta(hours=2)).replace(second=0, microsecond=0)
    answer = client.post(f"/incidents/{incident.pk}/facts/", {
        "type_key": "ransomware", "severity": incident.severity, "fact_ransom_demanded": "on", "fact_ransom_paid": "on",
        "clock_ransom_payment": paid.strftime("%Y-%m-%dT%H:%M")}, follow=True)
    page = _text(answer)
    assert "Facts saved" in page
    assert f"Clock: the payment of a ransom {paid.strftime('%-d %b %Y %H:%M')} (ransom_payment)" in page
    row = incident.notifications.get(rule_key="ransom-paid", recipient_key="role:legal")
    assert row.deadline == paid + timedelta(hours=24)
    assert re.search(r"Ransom paid: executive sponsor, Legal, insurer .{0,400}due in (21|22) h", page)
