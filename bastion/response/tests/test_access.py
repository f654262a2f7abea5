"""The plan's access rules, role by role (the API tests exercise the same helpers end to end)."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from bastion.accounts.models import Role
from bastion.response import access
from conftest import ALL_ROLES

# role: (sees every version, edits, manages settings)
EXPECTED = {
    Role.SECURITY_LEAD: (True, True, True),
    Role.SECURITY_TEAM: (True, True, False),
    Role.EXECUTIVE: (True, False, False),
    Role.AUDITOR: (True, False, False),
    Role.BUSINESS_LEADER: (False, False, False),
    Role.MANAGER: (False, False, False),
    Role.EMPLOYEE: (False, False, False),
}


@pytest.mark.parametrize("role", ALL_ROLES)
def test_rules_for_each_role(role, make_user, published, plan, lead):
    from bastion.response import actions

    actions.do_save_draft(acting_user=lead, plan=plan, content=dict(published.content, title="Next"))
    user = make_user(role)
    all_versions, edits, settings = EXPECTED[role]
    assert access.can_view_plan(user)
    assert access.can_view_all_versions(user) is all_versions
    assert access.can_edit_plan(user) is edits
    assert access.can_manage_plan_settings(user) is settings
    assert not access.can_decide(user, plan)  # being named, not the role, lets one approve
    assert access.current_plan_for_view(user) == plan
    assert sorted(access.versions_visible_to(user, plan).values_list("number", flat=True)) == (
        [1, 2] if all_versions else [1])
    assert access.get_version_for_view(user, plan, 1) == published
    if all_versions:
        assert access.get_version_for_view(user, plan, 2).number == 2
    else:
        with pytest.raises(Http404):
            access.get_version_for_view(user, plan, 2)
    for helper, allowed in ((access.get_plan_for_edit, edits), (access.get_plan_for_settings, settings),
                            (access.get_plan_for_decision, False)):
        if allowed:
            assert helper(user, plan.pk) == plan
        else:
            with pytest.raises(PermissionDenied):
                helper(user, plan.pk)


def test_named_approvers_decide(ceo, counsel, plan):
    assert access.get_plan_for_decision(ceo, plan.pk) == plan
    assert access.can_decide(counsel, plan)
    counsel.is_active = False
    assert not access.can_decide(counsel, plan)


def test_anonymous_has_no_access(plan):
    anonymous = AnonymousUser()
    assert not access.can_view_plan(anonymous)
    assert not access.can_decide(anonymous, plan)
    for call in (lambda: access.current_plan_for_view(anonymous), lambda: access.versions_visible_to(anonymous, plan),
                 lambda: access.get_plan_for_view(anonymous, plan.pk), lambda: access.person_acknowledging(anonymous)):
        with pytest.raises(PermissionDenied):
            call()


def test_an_unknown_plan_is_not_found(lead):
    with pytest.raises(Http404):
        access.get_plan_for_view(lead, 12345)
