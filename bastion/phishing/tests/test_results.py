"""Results as the security team and management read them: per department and manager, repeat
clickers across campaigns, a person's history, and the CSV export."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bastion.accounts.models import Role
from bastion.people.models import Person
from bastion.phishing import sending
from bastion.phishing.models import Recipient

from .conftest import make_people

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"
READ = {Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.EXECUTIVE, Role.AUDITOR}


def organisation() -> dict[str, Person]:
    """Mona (Sales) manages person1-3; Omar (Finance) manages person4-5."""
    people = make_people(4)  # boss (Mona) + person1..3, Sales, reporting to Mona
    omar = Person.objects.create(employee_id="B0001", email="omar@example.com", first_name="Omar",
                                 last_name="Okafor", department="Finance")
    for i in (4, 5):
        Person.objects.create(employee_id=f"E{i:04d}", email=f"person{i}@example.com", first_name=f"First{i}",
                              last_name=f"Last{i}", department="Finance", manager=omar)
    return {"mona": people[0], "omar": omar}


def send(make_campaign, name: str):
    campaign = make_campaign(name=name)
    sending.send_due()
    Recipient.objects.filter(campaign=campaign).update(sent_at=timezone.now() - timedelta(minutes=5))
    return campaign


def hit(campaign, email: str, kind: str, agent: str = BROWSER) -> None:
    token = Recipient.objects.get(campaign=campaign, email=email).token
    client = Client(HTTP_USER_AGENT=agent)
    if kind == "open":
        client.get(f"/p/o/{token}.gif")
    elif kind == "click":
        client.get(f"/p/c/{token}/")
    elif kind == "submit":
        client.post(f"/p/l/{token}/submit", {"": "typed"})
    elif kind == "report":
        client.post(f"/p/r/{token}/")


@pytest.fixture
def campaigns(make_campaign, smtp_server):
    org = organisation()
    spring = send(make_campaign, "Spring")
    hit(spring, "person1@example.com", "click")
    hit(spring, "person1@example.com", "submit")
    hit(spring, "person2@example.com", "click", agent="Mozilla/5.0 (compatible; Barracuda Sentinel)")  # scanner
    hit(spring, "person4@example.com", "open")
    hit(spring, "person4@example.com", "click")
    hit(spring, "person5@example.com", "report")
    autumn = send(make_campaign, "Autumn")
    hit(autumn, "person1@example.com", "click")
    hit(autumn, "person2@example.com", "click")
    hit(autumn, "person3@example.com", "report")
    return {"spring": spring, "autumn": autumn, **org}


def test_results_by_department_with_raw_and_filtered_figures(api_for, lead, campaigns):
    api = api_for(lead)
    url = f"/api/v1/campaigns/{campaigns['spring'].pk}/results?by=department"
    api.get(url)  # the token's first use is recorded once
    cache.clear()  # as after a new hit: computed
    with CaptureQueriesContext(connection) as ctx:
        body = api.get(url).json()
    groups = {g["label"]: g for g in body["groups"]}
    assert body["by"] == "department" and body["group_count"] == 2
    finance, sales = groups["Finance"], groups["Sales"]
    assert (sales["recipients"], sales["sent"]) == (4, 4)
    assert sales["raw"]["clicked"] == 2 and sales["filtered"]["clicked"] == 1  # the scanner's click is not a person's
    assert sales["filtered"]["submitted"] == 1 and sales["click_rate"] == 0.25 and sales["report_rate"] == 0.0
    assert finance["sent"] == 3 and finance["filtered"] == {"opened": 1, "clicked": 1, "submitted": 0, "reported": 1}
    assert finance["click_rate"] == round(1 / 3, 4) and finance["report_rate"] == round(1 / 3, 4)
    fixed = len(ctx.captured_queries)
    # Someone who moves later stays counted under the department they had when the campaign was
    # created (a historical report), and the directory change does not recompute the figures.
    Person.objects.filter(email="person1@example.com").update(department="Legal", updated_at=timezone.now())
    with CaptureQueriesContext(connection) as ctx:
        assert api.get(url).json() == body  # nothing the figures depend on changed: from the cache
    assert len(ctx.captured_queries) < fixed
    cache.clear()
    assert api.get(url).json() == body  # computed again: the same
    # A campaign of another size, the same queries: none per recipient or group.
    with CaptureQueriesContext(connection) as ctx:
        api.get(f"/api/v1/campaigns/{campaigns['autumn'].pk}/results?by=department")
    assert len(ctx.captured_queries) == fixed


def test_results_by_manager_page_through_groups(api_for, lead, campaigns):
    api = api_for(lead)
    spring = campaigns["spring"]
    body = api.get(f"/api/v1/campaigns/{spring.pk}/results?by=manager").json()
    groups = {g["label"]: g for g in body["groups"]}
    # Mona and Omar have no manager themselves.
    assert set(groups) == {"Mona Manager", "Omar Okafor", "No manager"} and body["group_count"] == 3
    assert groups["Mona Manager"]["sent"] == 3 and groups["Mona Manager"]["filtered"]["clicked"] == 1
    assert groups["Omar Okafor"]["key"] == campaigns["omar"].pk and groups["Omar Okafor"]["filtered"]["reported"] == 1
    assert groups["No manager"]["sent"] == 2
    page = api.get(f"/api/v1/campaigns/{spring.pk}/results?by=manager&limit=1&offset=1").json()
    assert len(page["groups"]) == 1 and page["group_count"] == 3
    assert api.get(f"/api/v1/campaigns/{spring.pk}/results?by=title").status_code == 422
    assert api.get(f"/api/v1/campaigns/{spring.pk}/results?by=manager&limit=0").status_code == 422


def test_repeat_clickers_counts_human_clicks_across_campaigns(api_for, lead, campaigns):
    api = api_for(lead)
    with CaptureQueriesContext(connection) as ctx:
        body = api.get("/api/v1/phishing/repeat-clickers").json()
    # person1 clicked in both; person2's spring click was a scanner's; person4 clicked once.
    assert body["count"] == 1 and [(i["employee_id"], i["campaigns_clicked"]) for i in body["items"]] == [("E0001", 2)]
    assert body["items"][0]["name"] == "First1 Last1" and body["items"][0]["department"] == "Sales"
    assert len(ctx.captured_queries) <= 7  # token check, count, page; the cache stamp (three index reads)
    assert api.get("/api/v1/phishing/repeat-clickers?min_campaigns=3").json()["count"] == 0


def test_a_persons_history_lists_each_simulation_newest_first(api_for, lead, campaigns):
    person = Person.objects.get(email="person1@example.com")
    body = api_for(lead).get(f"/api/v1/phishing/people/{person.pk}/history").json()
    assert body["employee_id"] == "E0001"
    assert [s["campaign_name"] for s in body["simulations"]] == ["Autumn", "Spring"]
    spring = next(s for s in body["simulations"] if s["campaign_name"] == "Spring")
    assert spring["clicked_at"] and spring["submitted_at"] and spring["reported_at"] is None
    assert spring["status"] == "sent" and spring["template"] == "Password expiry"
    scanned = Person.objects.get(email="person2@example.com")
    body = api_for(lead).get(f"/api/v1/phishing/people/{scanned.pk}/history").json()
    spring = next(s for s in body["simulations"] if s["campaign_name"] == "Spring")
    assert spring["clicked_at"] is None and spring["automated_hits"] == 1


@pytest.mark.parametrize("role", list(Role))
def test_history_and_repeat_clickers_by_role(api_for, make_user, campaigns, role):
    mona = campaigns["mona"]
    own = Person.objects.get(email="person1@example.com")  # reports to Mona
    other = Person.objects.get(email="person4@example.com")  # reports to Omar
    user = make_user(role, person=mona if role == Role.MANAGER else None)
    api = api_for(user)
    mine = api.get(f"/api/v1/phishing/people/{own.pk}/history")
    theirs = api.get(f"/api/v1/phishing/people/{other.pk}/history")
    clickers = api.get("/api/v1/phishing/repeat-clickers")
    csv_export = api.get(f"/api/v1/campaigns/{campaigns['spring'].pk}/results.csv")
    if role in READ:
        assert (mine.status_code, theirs.status_code, clickers.status_code, csv_export.status_code) == (200,) * 4
    elif role == Role.MANAGER:  # their own reporting line only; nothing across the organisation
        assert mine.status_code == 200 and len(mine.json()["simulations"]) == 2
        assert theirs.status_code == 404
        assert (clickers.status_code, csv_export.status_code) == (403, 403)
    else:
        assert (mine.status_code, theirs.status_code, clickers.status_code, csv_export.status_code) == (403,) * 4


def test_a_manager_without_a_directory_record_sees_no_history(api_for, make_user, campaigns):
    own = Person.objects.get(email="person1@example.com")
    assert api_for(make_user(Role.MANAGER)).get(f"/api/v1/phishing/people/{own.pk}/history").status_code == 403


def test_csv_export_has_a_row_per_recipient_and_neutralises_formulas(api_for, lead, campaigns):
    Person.objects.filter(email="person3@example.com").update(first_name="=HYPERLINK(\"http://evil\")",
                                                             department="+Sales")
    api = api_for(lead)
    spring = campaigns["spring"]
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(f"/api/v1/campaigns/{spring.pk}/results.csv")
        content = b"".join(response.streaming_content).decode()
    assert response["Content-Type"].startswith("text/csv")
    assert f"campaign-{spring.pk}-results.csv" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(content)))
    assert len(rows) == 7 and len(ctx.captured_queries) <= 4
    row = next(r for r in rows if r["email"] == "person3@example.com")
    assert row["first_name"] == "'=HYPERLINK(\"http://evil\")" and row["department"] == "'+Sales"
    clicked = next(r for r in rows if r["email"] == "person1@example.com")
    assert clicked["clicked_at"] and clicked["submitted_at"] and clicked["status"] == "sent"
    scanned = next(r for r in rows if r["email"] == "person2@example.com")
    assert scanned["clicked_at"] == "" and scanned["automated_hits"] == "1"
    # Nothing typed into the fake form reaches the export (or anywhere).
    assert "typed" not in content
