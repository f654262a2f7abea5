"""An incident's page and API cost the same number of queries however many incidents there are and
however long the timeline (bench/incidents_bench.py times them at 10,000 incidents and 500,000
entries); the timeline is paged, every entry still reachable, and the chain's verification is
loaded after the page."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from bastion.incidents import timeline
from bastion.incidents.models import EntryKind, Incident
from bastion.incidents.views import TIMELINE_PER_PAGE

from .test_pages import declare

LONG = 2 * TIMELINE_PER_PAGE + 7


def grow(incident: Incident, n: int) -> None:
    with transaction.atomic():
        for k in range(n):
            timeline.append(incident, kind=EntryKind.NOTE, text=f"Note {k}")


def count(client, url: str, headers: dict | None = None) -> int:
    client.get(url, headers=headers)  # a first request may do once-a-while work (a token's last use)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, url
    return len(captured)


@pytest.fixture
def two(published, lead) -> tuple[Incident, Incident]:
    short, long = declare(lead, "Short"), declare(lead, "Long")
    grow(long, LONG)
    return short, long


def test_an_incidents_page_costs_the_same_however_long_its_timeline(two, lead, client_for):
    short, long = two
    client = client_for(lead)
    for suffix in ("", "?order=oldest", "?page=3"):
        assert count(client, f"/incidents/{short.pk}/{suffix}") == count(client, f"/incidents/{long.pk}/{suffix}")
    # More incidents change nothing either.
    before = count(client, f"/incidents/{long.pk}/")
    for n in range(5):
        declare(lead, f"Other {n}")
    assert count(client, f"/incidents/{long.pk}/") == before


def test_every_entry_of_a_long_timeline_is_reachable_page_by_page(two, lead, client_for):
    _, long = two
    client = client_for(lead)
    total = long.timeline.count()
    pages = -(-total // TIMELINE_PER_PAGE)
    seen = set()
    for page in range(1, pages + 1):
        body = client.get(f"/incidents/{long.pk}/?order=oldest&page={page}").content.decode()
        seen |= {k for k in range(LONG) if f">Note {k}<" in body}
    assert seen == set(range(LONG))
    last = client.get(f"/incidents/{long.pk}/?page={pages}").content.decode()
    assert f"Page {pages} of {pages}" in last and "Declared under plan version" in last


def test_the_verification_is_loaded_after_the_page_and_reads_the_chain_in_batches(two, lead, client_for):
    short, long = two
    client = client_for(lead)
    page = client.get(f"/incidents/{long.pk}/").content.decode()
    assert f'hx-get="/incidents/{long.pk}/timeline/verify/"' in page and "Chain verified" not in page
    region = client.get(f"/incidents/{long.pk}/timeline/verify/", headers={"HX-Request": "true"}).content.decode()
    assert "Chain verified" in region and f"{long.timeline.count()} entries" in region
    # The chain is read 500 entries at a time: a bounded memory, one query more per 500 entries.
    htmx = {"HX-Request": "true"}
    assert count(client, f"/incidents/{long.pk}/timeline/verify/", htmx) <= count(
        client, f"/incidents/{short.pk}/timeline/verify/", htmx) + LONG // 500 + 1


def test_the_api_costs_the_same_however_long_the_timeline(two, lead, api_for):
    short, long = two
    client = api_for(lead)
    for suffix in ("", "/timeline", "/timeline?offset=50&limit=50", "/updates", "/notifications"):
        assert (count(client, f"/api/v1/incidents/{short.pk}{suffix}")
                == count(client, f"/api/v1/incidents/{long.pk}{suffix}")), suffix
    entries = client.get(f"/api/v1/incidents/{long.pk}/timeline?offset=50&limit=50").json()
    assert entries["count"] == LONG + 1 and [e["seq"] for e in entries["items"]] == list(range(51, 101))


def test_the_lists_cost_the_same_however_many_incidents_and_entries(published, lead, client_for, api_for):
    declare(lead, "First")
    web, api = client_for(lead), api_for(lead)
    urls = ["/incidents/", "/incidents/?status=all&page=2", "/api/v1/incidents", "/api/v1/incidents?offset=3&limit=2"]
    before = [count(web if u.startswith("/incidents") else api, u) for u in urls]
    for n in range(6):
        incident = declare(lead, f"More {n}", restricted=n % 2 == 0, members=[lead] if n % 4 == 0 else ())
        grow(incident, 3)
    assert [count(web if u.startswith("/incidents") else api, u) for u in urls] == before
