"""/api/v1/progress: the progress page's figures over JSON, with the same scope per role."""

import pytest

from bastion.accounts.models import Role
from conftest import ALL_ROLES


def test_figures_by_department(api_for, lead, org):
    body = api_for(lead).get("/api/v1/progress", {"by": "department"}).json()
    assert body["by"] == "department" and body["count"] == 2
    sales = next(item for item in body["items"] if item["label"] == "Sales")
    assert (sales["assigned"], sales["completed"], sales["overdue"], sales["on_time"]) == (4, 2, 1, 1)
    assert sales["completion"] == 50.0 and sales["on_time_rate"] == 50.0 and sales["average_score"] == 80.0
    assert body["total"]["assigned"] == 5 and body["total"]["not_started"] == 2


def test_a_manager_gets_their_people_only(api_for, make_user, org):
    mona = make_user(Role.MANAGER, email="mona.user@example.com", person=org["mona"])
    body = api_for(mona).get("/api/v1/progress").json()
    assert body["total"]["assigned"] == 4 and [i["label"] for i in body["items"]] == ["Sales"]


@pytest.mark.parametrize("params", [{"by": "nonsense"}, {"programme": "abc"}, {"programme": "0"},
                                    {"limit": "0"}, {"offset": "-1"}])
def test_bad_parameters_are_422(api_for, lead, org, params):
    assert api_for(lead).get("/api/v1/progress", params).status_code == 422


@pytest.mark.parametrize("role", ALL_ROLES + [None])
def test_progress_api_roles(api_for, make_user, org, role):
    response = api_for(make_user(role) if role else None).get("/api/v1/progress")
    if role is None:
        assert response.status_code == 401
    elif role in (Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.AUDITOR, Role.EXECUTIVE):
        assert response.status_code == 200 and response.json()["total"]["assigned"] == 5
    else:  # employees, business leaders, a manager without a directory record
        assert response.status_code == 403
