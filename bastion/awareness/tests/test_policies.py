"""Policies: publishing, new versions asking everyone again, who has acknowledged, the CSV,
and who may do what on the pages and in the API."""

import csv
import io

import pytest

from bastion.accounts.models import Role
from bastion.audit.models import AuditEntry
from bastion.awareness.models import Acknowledgement, Policy, PolicyVersion
from bastion.awareness.policy_actions import do_create_policy, do_publish_policy_version
from bastion.people.models import Person
from conftest import ALL_ROLES

WRITERS = {Role.SECURITY_LEAD, Role.SECURITY_TEAM}
READERS = WRITERS | {Role.AUDITOR}
JSON = "application/json"


def person(n: int, department: str = "Sales", **fields) -> Person:
    return Person.objects.create(employee_id=f"P{n:04d}", email=f"p{n}@example.com", first_name=f"First{n}",
                                 last_name=f"Last{n:04d}", department=department, **fields)


@pytest.fixture
def policy(lead):
    return do_create_policy(acting_user=lead, title="Acceptable use", slug="acceptable-use",
                            body="# Acceptable use\n\nLock your **screen**.")


@pytest.fixture
def people(db):
    return [person(1, "Sales"), person(2, "Sales"), person(3, "Finance"),
            person(4, "Finance", status="leaver")]


def acknowledge(people, version):
    Acknowledgement.objects.bulk_create([Acknowledgement(person=p, version=version) for p in people])


def test_create_a_policy(client_for, lead):
    client = client_for(lead)
    response = client.post("/awareness/policies/new/", {"title": "Acceptable use", "slug": "acceptable-use",
                                                        "body": "Lock your **screen**."})
    policy = Policy.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/awareness/policies/{policy.pk}/"
    assert policy.current_version().number == 1
    page = client.get(f"/awareness/policies/{policy.pk}/").content.decode()
    assert "Lock your <strong>screen</strong>." in page
    assert AuditEntry.objects.filter(action="policy.created").count() == 1
    again = client.post("/awareness/policies/new/", {"title": "Other", "slug": "acceptable-use", "body": "x"})
    assert again.status_code == 400 and "exists already" in again.content.decode()


def test_a_new_version_asks_everyone_again(client_for, lead, policy, people):
    v1 = policy.current_version()
    acknowledge(people[:2], v1)
    client = client_for(lead)
    assert "2 of 3" in client.get("/awareness/policies/").content.decode()

    refused = client.post(f"/awareness/policies/{policy.pk}/new-version/", {"body": "New text", "summary_of_changes": ""})
    assert refused.status_code == 400 and policy.versions.count() == 1
    response = client.post(f"/awareness/policies/{policy.pk}/new-version/",
                           {"body": "Lock your screen **and** your phone.", "summary_of_changes": "Phones too."})
    assert response.status_code == 302
    v2 = policy.current_version()
    assert v2.number == 2 and v2.summary_of_changes == "Phones too."
    assert "0 of 3" in client.get("/awareness/policies/").content.decode()
    # Acknowledgements of version 1 stay recorded against version 1.
    assert Acknowledgement.objects.filter(version=v1).count() == 2
    page = client.get(f"/awareness/policies/{policy.pk}/").content.decode()
    assert "Acknowledged by <strong>0 of 3</strong>" in page and "Phones too." in page
    assert "<strong>and</strong>" in page
    assert AuditEntry.objects.filter(action="policy.version_published").count() == 1


def test_acknowledgement_status_filters(client_for, lead, policy, people):
    acknowledge([people[0], people[2], people[3]], policy.current_version())
    client = client_for(lead)
    url = f"/awareness/policies/{policy.pk}/"
    page = client.get(url).content.decode()
    assert "Acknowledged by <strong>2 of 3</strong>" in page  # the leaver does not count
    assert "p4@example.com" not in page
    page = client.get(url, {"acknowledged": "no"}).content.decode()
    assert "p2@example.com" in page and "p1@example.com" not in page and "p3@example.com" not in page
    page = client.get(url, {"acknowledged": "yes", "department": "Finance"}).content.decode()
    assert "p3@example.com" in page and "p1@example.com" not in page and "p2@example.com" not in page


def test_acknowledgements_csv(client_for, lead, policy, people):
    acknowledge([people[0]], policy.current_version())
    person(5, "=HYPERLINK(\"x\")")
    response = client_for(lead).get(f"/awareness/policies/{policy.pk}/acknowledgements.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    by_email = {r["email"]: r for r in rows}
    assert set(by_email) == {"p1@example.com", "p2@example.com", "p3@example.com", "p5@example.com"}
    assert by_email["p1@example.com"]["acknowledged"] == "yes" and by_email["p1@example.com"]["acknowledged_at"]
    assert by_email["p2@example.com"]["acknowledged"] == "no" and by_email["p2@example.com"]["version"] == "1"
    assert by_email["p5@example.com"]["department"].startswith("'=")  # not run as a formula
    filtered = client_for(lead).get(f"/awareness/policies/{policy.pk}/acknowledgements.csv?acknowledged=no")
    assert "p1@example.com" not in filtered.content.decode()


def test_policy_pages_query_counts_do_not_grow(client_for, lead, people, django_assert_max_num_queries):
    client = client_for(lead)
    first = do_create_policy(acting_user=lead, title="P0", slug="p0", body="x")
    client.get("/awareness/policies/")
    with django_assert_max_num_queries(8) as few:
        client.get("/awareness/policies/")
    with django_assert_max_num_queries(14) as detail:
        client.get(f"/awareness/policies/{first.pk}/")
    for n in range(1, 20):
        policy = do_create_policy(acting_user=lead, title=f"P{n}", slug=f"p{n}", body="x")
        acknowledge(people[:2], policy.current_version())
        do_publish_policy_version(acting_user=lead, policy=first, body=f"v{n}", summary_of_changes="c")
    for n in range(10, 60):
        person(n)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/awareness/policies/")
    with django_assert_max_num_queries(len(detail.captured_queries)):
        client.get(f"/awareness/policies/{first.pk}/")


# --- who may do what -----------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/awareness/policies/", "/awareness/policies/new/", "/awareness/policies/{pk}/",
                                 "/awareness/policies/{pk}/acknowledgements.csv",
                                 "/awareness/policies/{pk}/new-version/"])
def test_anonymous_is_sent_to_sign_in(client, policy, url):
    for response in (client.get(url.format(pk=policy.pk)), client.post(url.format(pk=policy.pk))):
        assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("role", ALL_ROLES)
def test_pages_by_role(client_for, make_user, policy, role):
    client = client_for(make_user(role))
    read = 200 if role in READERS else 403
    write = 200 if role in WRITERS else 403
    assert client.get("/awareness/policies/").status_code == read
    assert client.get(f"/awareness/policies/{policy.pk}/").status_code == read
    assert client.get(f"/awareness/policies/{policy.pk}/acknowledgements.csv").status_code == read
    assert client.get("/awareness/policies/new/").status_code == write
    assert client.get(f"/awareness/policies/{policy.pk}/new-version/").status_code == write
    created = client.post("/awareness/policies/new/", {"title": "T", "slug": "t", "body": "b"})
    versioned = client.post(f"/awareness/policies/{policy.pk}/new-version/",
                            {"body": "b", "summary_of_changes": "s"})
    if role in WRITERS:
        assert created.status_code == 302 and versioned.status_code == 302
        assert Policy.objects.count() == 2 and policy.versions.count() == 2
    else:
        assert created.status_code == 403 and versioned.status_code == 403
        assert Policy.objects.count() == 1 and policy.versions.count() == 1


def test_unknown_policy_is_404(client_for, lead):
    assert client_for(lead).get("/awareness/policies/999999/").status_code == 404


# --- the API -------------------------------------------------------------------------------


def test_api_create_list_and_get(api_for, lead, people):
    api = api_for(lead)
    response = api.post("/api/v1/policies", {"title": "Acceptable use", "slug": "acceptable-use",
                                             "body": "Lock it."}, content_type=JSON)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["current_version"] == 1 and created["acknowledged"] == 0 and created["active_people"] == 3
    acknowledge(people[:2], PolicyVersion.objects.get())
    listed = api.get("/api/v1/policies").json()
    assert listed["count"] == 1 and listed["items"][0]["acknowledged"] == 2
    one = api.get(f"/api/v1/policies/{created['id']}").json()
    assert one["body"] == "Lock it." and one["acknowledged"] == 2
    again = api.post("/api/v1/policies", {"title": "X", "slug": "acceptable-use", "body": "x"}, content_type=JSON)
    assert again.status_code == 422 and "exists already" in again.json()["detail"][0]["msg"]
    assert api.get("/api/v1/policies/999999").status_code == 404


def test_api_anonymous_is_401(client, policy):
    assert client.get("/api/v1/policies").status_code == 401
    assert client.get(f"/api/v1/policies/{policy.pk}").status_code == 401
    assert client.post("/api/v1/policies", {"title": "t", "slug": "t", "body": "b"},
                       content_type=JSON).status_code == 401


@pytest.mark.parametrize("role", ALL_ROLES)
def test_api_by_role(api_for, make_user, policy, role):
    api = api_for(make_user(role))
    read = 200 if role in READERS else 403
    assert api.get("/api/v1/policies").status_code == read
    assert api.get(f"/api/v1/policies/{policy.pk}").status_code == read
    created = api.post("/api/v1/policies", {"title": "T", "slug": "t", "body": "b"}, content_type=JSON)
    assert created.status_code == (201 if role in WRITERS else 403)
    assert Policy.objects.filter(slug="t").exists() == (role in WRITERS)


def test_api_list_query_count_does_not_grow(api_for, lead, people, django_assert_max_num_queries):
    api = api_for(lead)
    do_create_policy(acting_user=lead, title="P0", slug="p0", body="x")
    with django_assert_max_num_queries(8) as few:
        api.get("/api/v1/policies")
    for n in range(1, 20):
        policy = do_create_policy(acting_user=lead, title=f"P{n}", slug=f"p{n}", body="x")
        acknowledge(people, policy.current_version())
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert api.get("/api/v1/policies").json()["count"] == 20
