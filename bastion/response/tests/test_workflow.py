"""Review and approval: draft → review (approvers emailed) → each approves the exact content →
published, previous version superseded, readers asked to acknowledge. Edits invalidate
approvals; a wrong version or hash is refused; bad content changes nothing."""

import copy

import pytest

from bastion.accounts.models import Role
from bastion.audit.models import AuditEntry
from bastion.response import actions
from bastion.response.content import ContentError
from bastion.response.models import Acknowledgement, Approval, Plan, PlanVersion, VersionStatus

from .conftest import approve_all, draft, person


def edited(version: PlanVersion) -> dict:
    """The version's content with one playbook step's title changed."""
    content = copy.deepcopy(version.content)
    content["incident_types"][0]["playbook"][0]["title"] = "Isolate affected machines from the network"
    return content


def test_installing_the_starter_plan_once(lead):
    plan = actions.install_starter_plan(acting_user=lead)
    assert actions.install_starter_plan(acting_user=lead) == plan
    assert Plan.objects.count() == 1
    version = plan.versions.get()
    assert (version.number, version.status, plan.owner, plan.review_interval_months) == (1, "draft", lead, 12)
    assert AuditEntry.objects.filter(action="plan.installed").count() == 1


def test_the_whole_workflow_through_a_real_smtp_server(plan, lead, ceo, counsel, make_user, smtp_server, run_tasks,
                                                       django_capture_on_commit_callbacks):
    reader = make_user(Role.EMPLOYEE, email="emma@example.com", person=person("Emma", "Employee"))
    capture = django_capture_on_commit_callbacks

    # The lead edits a playbook step and submits: each approver is emailed.
    version = actions.do_save_draft(acting_user=lead, plan=plan, content=edited(draft(plan)),
                                    summary_of_changes="Clearer first ransomware step.")
    assert version.number == 1 and version.status == VersionStatus.DRAFT
    with capture(execute=True):
        actions.do_submit_for_review(acting_user=lead, plan=plan)
    run_tasks()
    assert sorted(m["To"] for m in smtp_server.messages) == ["carla@example.com", "gina@example.com"]
    invitation = smtp_server.messages[0]
    assert invitation["Subject"] == "Please review and approve the Incident response plan (version 1)"
    body = invitation.get_body(("plain",)).get_content()
    assert "/plan/versions/1/" in body and version.content_hash in body and "Clearer first ransomware step." in body

    # The CEO approves; not yet published. The General Counsel approves: published.
    actions.do_decide(acting_user=ceo, plan=plan, version_number=1, content_hash=version.content_hash,
                      decision="approved", comment="Fine by me.")
    version.refresh_from_db()
    assert version.status == VersionStatus.IN_REVIEW
    with capture(execute=True):
        actions.do_decide(acting_user=counsel, plan=plan, version_number=1, content_hash=version.content_hash,
                          decision="approved")
    version.refresh_from_db()
    assert version.status == VersionStatus.PUBLISHED and version.published_at is not None
    assert plan.published() == version
    approvals = list(version.approvals.standing().values_list("approver__email", "content_hash"))
    assert approvals == [("carla@example.com", version.content_hash), ("gina@example.com", version.content_hash)]
    published = AuditEntry.objects.get(action="plan.published")
    assert published.after["approved_by"] == ["carla@example.com", "gina@example.com"]

    # Publication asks the required readers (employees and managers) to acknowledge.
    with capture(execute=True):
        run_tasks()  # the publication's task queues the asks
    run_tasks()  # and the worker sends them
    asks = [m for m in smtp_server.messages if m["To"] == "emma@example.com"]
    assert len(asks) == 1
    assert asks[0]["Subject"] == "Please read and acknowledge the Incident response plan"
    assert "/plan/acknowledge/" in asks[0].get_body(("plain",)).get_content()

    # The reader acknowledges (twice changes nothing).
    ack = actions.do_acknowledge(version=version, person=reader.person, acting_user=reader)
    assert actions.do_acknowledge(version=version, person=reader.person, acting_user=reader) == ack
    assert Acknowledgement.objects.count() == 1
    assert AuditEntry.objects.filter(action="plan.acknowledged").count() == 1
    # Every step is in the audit trail, and the chain verifies.
    from bastion.audit.chain import verify

    actions_recorded = list(AuditEntry.objects.filter(action__startswith="plan.").order_by("seq")
                            .values_list("action", flat=True))
    assert actions_recorded == ["plan.installed", "plan.settings_changed", "plan.draft_saved", "plan.submitted",
                                "plan.approved", "plan.approved", "plan.published", "plan.acknowledgement_asked",
                                "plan.acknowledged"]
    assert verify().ok


def test_editing_the_published_plan_starts_a_new_version_and_supersedes_on_publication(published, plan, lead, ceo,
                                                                                       counsel):
    version = actions.do_save_draft(acting_user=lead, plan=plan, content=edited(published))
    assert (version.number, version.status) == (2, VersionStatus.DRAFT)
    published.refresh_from_db()
    assert published.status == VersionStatus.PUBLISHED  # still in force while version 2 is worked on
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    approve_all(plan, ceo, counsel)
    published.refresh_from_db()
    version.refresh_from_db()
    assert (published.status, version.status) == (VersionStatus.SUPERSEDED, VersionStatus.PUBLISHED)
    assert published.superseded_at is not None
    assert AuditEntry.objects.filter(action="plan.published").order_by("seq").last().after["supersedes"] == 1


def test_an_edit_after_an_approval_invalidates_it(plan, lead, ceo, counsel):
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    version = draft(plan)
    old_hash = version.content_hash
    actions.do_decide(acting_user=ceo, plan=plan, version_number=1, content_hash=old_hash, decision="approved")
    version = actions.do_save_draft(acting_user=lead, plan=plan, content=edited(version))
    assert version.status == VersionStatus.DRAFT  # back from review
    approval = Approval.objects.get(approver=ceo)
    assert approval.invalidated_at is not None
    assert approval.invalidated_reason == "The content changed after this decision."
    assert AuditEntry.objects.filter(action="plan.draft_saved").order_by("seq").last().after["approvals_invalidated"] == [
        "carla@example.com"]
    # The old approval does not count: after resubmission, both must approve the new content.
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    with pytest.raises(actions.PlanStateError, match="is not the one you read"):
        actions.do_decide(acting_user=counsel, plan=plan, version_number=1, content_hash=old_hash, decision="approved")
    version = approve_all(plan, counsel)
    assert version.status == VersionStatus.IN_REVIEW
    version = approve_all(plan, ceo)
    assert version.status == VersionStatus.PUBLISHED


def test_saving_unchanged_content_keeps_the_approvals(plan, lead, ceo):
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    version = approve_all(plan, ceo)
    actions.do_save_draft(acting_user=lead, plan=plan, content=copy.deepcopy(version.content))
    version.refresh_from_db()
    assert version.status == VersionStatus.IN_REVIEW
    assert Approval.objects.standing().count() == 1


def test_approving_a_version_not_under_review_or_with_the_wrong_hash(plan, lead, ceo, counsel, make_user):
    version = draft(plan)
    with pytest.raises(actions.PlanStateError) as error:
        actions.do_decide(acting_user=ceo, plan=plan, version_number=1, content_hash=version.content_hash,
                          decision="approved")
    assert str(error.value) == "Version 1 is not under review: no version is in review now."
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    with pytest.raises(actions.PlanStateError) as error:
        actions.do_decide(acting_user=ceo, plan=plan, version_number=2, content_hash=version.content_hash,
                          decision="approved")
    assert str(error.value) == "Version 2 is not under review: version 1 is."
    with pytest.raises(actions.PlanStateError) as error:
        actions.do_decide(acting_user=ceo, plan=plan, version_number=1, content_hash="0" * 64, decision="approved")
    assert str(error.value) == (f"The content of version 1 is not the one you read (you stated 000000000000…, it is "
                                f"now {version.content_hash[:12]}…). Reload it and review again.")
    outsider = make_user(Role.EXECUTIVE)
    with pytest.raises(actions.PlanStateError, match="Only the plan's named approvers"):
        actions.do_decide(acting_user=outsider, plan=plan, version_number=1, content_hash=version.content_hash,
                          decision="approved")
    with pytest.raises(actions.PlanStateError, match="Only the plan's named approvers"):
        actions.do_decide(acting_user=lead, plan=plan, version_number=1, content_hash=version.content_hash,
                          decision="approved")
    assert not Approval.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="plan.approved").exists()


def test_requesting_changes_sends_the_version_back_to_draft(plan, lead, ceo, counsel, smtp_server, run_tasks,
                                                            django_capture_on_commit_callbacks):
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    version = approve_all(plan, ceo)
    with pytest.raises(actions.PlanStateError, match="Say which changes"):
        actions.do_decide(acting_user=counsel, plan=plan, version_number=1, content_hash=version.content_hash,
                          decision="changes_requested", comment="  ")
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_decide(acting_user=counsel, plan=plan, version_number=1, content_hash=version.content_hash,
                          decision="changes_requested", comment="Name outside counsel in the legal role.")
    run_tasks()
    version.refresh_from_db()
    assert version.status == VersionStatus.DRAFT
    [message] = smtp_server.messages
    assert message["To"] == "alice@example.com"
    assert message["Subject"] == "Changes requested to the Incident response plan (version 1)"
    assert "Name outside counsel in the legal role." in message.get_body(("plain",)).get_content()
    # Resubmitted unchanged: the CEO's approval of this exact content stands; the request for
    # changes is closed, and the General Counsel decides again.
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    assert list(Approval.objects.standing().values_list("approver__email", "decision")) == [
        ("carla@example.com", "approved")]
    version = approve_all(plan, counsel)
    assert version.status == VersionStatus.PUBLISHED


def test_submitting_needs_a_draft_and_approvers(plan, lead, ceo, counsel):
    actions.do_update_plan_settings(acting_user=lead, plan=plan, approvers=[])
    with pytest.raises(actions.PlanStateError, match="Name the approvers first"):
        actions.do_submit_for_review(acting_user=lead, plan=plan)
    actions.do_update_plan_settings(acting_user=lead, plan=plan, approvers=[ceo, counsel])
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    with pytest.raises(actions.PlanStateError, match="Version 1 is already in review."):
        actions.do_submit_for_review(acting_user=lead, plan=plan)


def test_only_executives_can_be_approvers(plan, lead, make_user):
    employee = make_user(Role.EMPLOYEE, email="eve@example.com")
    with pytest.raises(actions.PlanStateError, match="not: eve@example.com"):
        actions.do_update_plan_settings(acting_user=lead, plan=plan, approvers=[employee])
    # The security lead, who edits and submits the plan, cannot approve it: not even alone.
    with pytest.raises(actions.PlanStateError) as error:
        actions.do_update_plan_settings(acting_user=lead, plan=plan, approvers=[lead])
    assert str(error.value) == ("Approvers are executives (senior management) with an active account; not: "
                                f"{lead.email}.")
    gone = make_user(Role.EXECUTIVE, email="gone@example.com", is_active=False)
    with pytest.raises(actions.PlanStateError, match="not: gone@example.com"):
        actions.do_update_plan_settings(acting_user=lead, plan=plan, approvers=[gone])
    with pytest.raises(Exception, match="Unknown role"):
        actions.do_update_plan_settings(acting_user=lead, plan=plan, reader_roles=["janitor"])


def test_invalid_content_changes_nothing(published, plan, lead):
    content = edited(published)
    content["rules"][0]["when"]["all"].append({"fact": "moon_phase", "op": "is", "value": True})
    content["roles"][0]["holders"] = [{"person": published.pk + 10_000, "deputy": None}]
    entries = AuditEntry.objects.count()
    with pytest.raises(ContentError) as error:
        actions.do_save_draft(acting_user=lead, plan=plan, content=content)
    assert len(error.value.messages) == 2
    assert "no person with id" in error.value.messages[0]
    assert plan.versions.count() == 1 and AuditEntry.objects.count() == entries


def test_acknowledging_an_unpublished_or_superseded_version_is_refused(plan, lead, ceo, counsel):
    reader = person("Rita", "Reader")
    with pytest.raises(actions.PlanStateError) as error:
        actions.do_acknowledge(version=draft(plan), person=reader)
    assert str(error.value) == "Version 1 is not published yet; only the plan in force is acknowledged."
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    first = approve_all(plan, ceo, counsel)
    actions.do_save_draft(acting_user=lead, plan=plan, content=edited(first))
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    approve_all(plan, ceo, counsel)
    with pytest.raises(actions.PlanStateError, match="Version 1 has been replaced"):
        actions.do_acknowledge(version=first, person=reader)
    assert not Acknowledgement.objects.exists()


def test_required_readers_come_from_roles_and_groups(plan, lead, make_user):
    from bastion.people.models import Group, GroupKind, PersonStatus

    employee = make_user(Role.EMPLOYEE, person=person("Ed", "Employee"))
    make_user(Role.AUDITOR, person=person("Aud", "Itor"))
    make_user(Role.EMPLOYEE)  # no directory record: cannot be asked
    team = person("Tom", "Team", department="Security")
    person("Lea", "Leaver", department="Security", status=PersonStatus.LEAVER)
    static = Group.objects.create(name="Response team")
    static.members.add(person("Sam", "Static"))
    rule_group = Group.objects.create(name="Security department", kind=GroupKind.RULE,
                                      rules=[{"field": "department", "op": "is", "value": "Security"}])
    actions.do_update_plan_settings(acting_user=lead, plan=plan, reader_groups=[static, rule_group])
    names = sorted(plan.required_readers().values_list("first_name", flat=True))
    assert names == sorted(["Ed", "Sam", "Tom"])
    assert employee.person.first_name in names and team.first_name in names
    assert AuditEntry.objects.filter(action="plan.settings_changed").order_by("seq").last().after["reader_groups"] == [
        "Response team", "Security department"]
    # Two queries (the groups, then the people) however many people there are.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        list(plan.required_readers())
    assert len(queries) == 2


# --- findings of the security review ----------------------------------------------------------

def test_changing_the_approvers_mid_review_asks_everyone_again_and_never_publishes(
        plan, lead, ceo, counsel, make_user, smtp_server, run_tasks, django_capture_on_commit_callbacks):
    cio = make_user(Role.EXECUTIVE, email="ian@example.com", full_name="Ian Information")
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    version = draft(plan)
    actions.do_decide(acting_user=ceo, plan=plan, version_number=1, content_hash=version.content_hash,
                      decision="approved")
    # Dropping the General Counsel (who had not approved) used to publish on the CEO's approval alone.
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_update_plan_settings(acting_user=lead, plan=plan, approvers=[ceo, cio])
    run_tasks()
    version.refresh_from_db()
    assert version.status == VersionStatus.IN_REVIEW
    assert not version.approvals.standing().exists()
    assert version.approvals.get().invalidated_reason == "The approvers changed: every approver decides again."
    assert sorted(m["To"] for m in smtp_server.messages) == ["carla@example.com", "ian@example.com"]
    entry = AuditEntry.objects.get(action="plan.review_restarted")
    assert entry.after == {"version": 1, "decisions_withdrawn": ["carla@example.com"],
                           "approvers": ["carla@example.com", "ian@example.com"]}
    # Both approve again: published.
    approve_all(plan, ceo, cio)
    version.refresh_from_db()
    assert version.status == VersionStatus.PUBLISHED
    # Setting the same approvers again (in another order) withdraws nothing.
    actions.do_update_plan_settings(acting_user=lead, plan=plan, approvers=[cio, ceo])
    assert not AuditEntry.objects.filter(action="plan.review_restarted").exclude(pk=entry.pk).exists()


def test_a_deactivated_approver_blocks_publication_until_the_approvers_change(plan, lead, ceo, counsel):
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    version = draft(plan)
    actions.do_decide(acting_user=ceo, plan=plan, version_number=1, content_hash=version.content_hash,
                      decision="approved")
    counsel.is_active = False
    counsel.save()
    # The CEO approving again (or anything else) does not publish: the General Counsel is still named.
    actions.do_decide(acting_user=ceo, plan=plan, version_number=1, content_hash=version.content_hash,
                      decision="approved")
    version.refresh_from_db()
    assert version.status == VersionStatus.IN_REVIEW
    with pytest.raises(actions.PlanStateError, match="Only the plan's named approvers"):
        actions.do_decide(acting_user=counsel, plan=plan, version_number=1, content_hash=version.content_hash,
                          decision="approved")
    # A new round cannot start either, and the message says what to do.
    actions.do_save_draft(acting_user=lead, plan=plan, content=edited(version))
    with pytest.raises(actions.PlanStateError) as error:
        actions.do_submit_for_review(acting_user=lead, plan=plan)
    assert str(error.value) == ("gina@example.com is named as approver but can no longer approve (account "
                                "deactivated or no longer an executive): the lead must change the approvers before "
                                "this version can be approved.")
    actions.do_update_plan_settings(acting_user=lead, plan=plan, approvers=[ceo])
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    assert approve_all(plan, ceo).status == VersionStatus.PUBLISHED


def test_an_approver_who_is_no_longer_an_executive_cannot_decide(plan, lead, ceo, counsel):
    from bastion.response import access

    actions.do_submit_for_review(acting_user=lead, plan=plan)
    version = draft(plan)
    actions.do_decide(acting_user=ceo, plan=plan, version_number=1, content_hash=version.content_hash,
                      decision="approved")
    counsel.role = Role.MANAGER
    counsel.save()
    assert access.can_decide(ceo, plan) and not access.can_decide(counsel, plan)
    with pytest.raises(actions.PlanStateError, match="Only the plan's named approvers"):
        actions.do_decide(acting_user=counsel, plan=plan, version_number=1, content_hash=version.content_hash,
                          decision="approved")
    # Nor does an approval given before the demotion count: the last approval does not publish.
    actions.do_decide(acting_user=ceo, plan=plan, version_number=1, content_hash=version.content_hash,
                      decision="approved")
    version.refresh_from_db()
    assert version.status == VersionStatus.IN_REVIEW


def test_an_approval_given_before_a_demotion_does_not_publish(plan, lead, ceo, counsel):
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    version = draft(plan)
    actions.do_decide(acting_user=counsel, plan=plan, version_number=1, content_hash=version.content_hash,
                      decision="approved")
    counsel.role = Role.MANAGER
    counsel.save()
    actions.do_decide(acting_user=ceo, plan=plan, version_number=1, content_hash=version.content_hash,
                      decision="approved")
    version.refresh_from_db()
    assert version.status == VersionStatus.IN_REVIEW


def test_a_leaver_cannot_acknowledge(published):
    from bastion.people.models import PersonStatus

    leaver = person("Lea", "Leaver", status=PersonStatus.LEAVER)
    with pytest.raises(actions.PlanStateError) as error:
        actions.do_acknowledge(version=published, person=leaver)
    assert str(error.value) == "Lea Leaver has left the organisation: only current staff acknowledge the plan."
    assert not Acknowledgement.objects.exists()


def test_acknowledgements_outlive_attempts_to_delete_the_person(published):
    from django.db.models import ProtectedError

    reader = person("Rita", "Reader")
    actions.do_acknowledge(version=published, person=reader)
    with pytest.raises(ProtectedError):
        reader.delete()
    assert Acknowledgement.objects.filter(person=reader).exists()


def test_a_concurrent_duplicate_acknowledgement_returns_the_first(published, monkeypatch):
    reader = person("Rita", "Reader")
    first = Acknowledgement.objects.create(version=published, person=reader)
    # The other request's check ran before this one's insert: it saw no acknowledgement.
    real_filter = Acknowledgement.objects.filter
    monkeypatch.setattr(Acknowledgement.objects, "filter",
                        lambda *a, **kw: real_filter(pk__in=[]) if kw.get("person") == reader else real_filter(*a, **kw))
    assert actions.do_acknowledge(version=published, person=reader) == first
    assert Acknowledgement.objects.count() == 1


def test_a_second_plan_cannot_be_created(lead):
    from django.db import IntegrityError, transaction

    actions.install_starter_plan(acting_user=lead)
    with pytest.raises(IntegrityError), transaction.atomic():
        Plan.objects.create()
    # Two installs racing: the one that finds no plan and creates a second gets the first back.
    real = Plan.objects.select_for_update
    calls = []

    def sees_no_plan():
        calls.append(1)
        return real().filter(pk__in=[])

    import unittest.mock

    with unittest.mock.patch.object(Plan.objects, "select_for_update", sees_no_plan):
        again = actions.install_starter_plan(acting_user=lead)
    assert calls and Plan.objects.count() == 1 and again == Plan.objects.get()
    assert PlanVersion.objects.count() == 1


def test_changing_the_approvers_withdraws_approvals_standing_on_a_draft(plan, lead, ceo, counsel, make_user):
    cio = make_user(Role.EXECUTIVE, email="ian@example.com")
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    version = draft(plan)
    actions.do_decide(acting_user=ceo, plan=plan, version_number=1, content_hash=version.content_hash,
                      decision="approved")
    actions.do_decide(acting_user=counsel, plan=plan, version_number=1, content_hash=version.content_hash,
                      decision="changes_requested", comment="Add a deputy.")
    # Back in draft with the CEO's approval standing; the panel changes; the resubmitted
    # version needs the new panel's approvals, the CEO's included.
    actions.do_update_plan_settings(acting_user=lead, plan=plan, approvers=[ceo, cio])
    assert not version.approvals.standing().exists()
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    approve_all(plan, cio)
    assert draft(plan).status == VersionStatus.IN_REVIEW
    assert approve_all(plan, ceo).status == VersionStatus.PUBLISHED
