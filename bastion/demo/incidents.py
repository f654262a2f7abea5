"""The demo's incidents, run by the demo's published plan: a business email compromise still open
(in containment, notifications due, the executive sponsor told by phone and Communications by
email from Bastion, one status update sent), a ransomware attack on the
warehouses closed with a deviation and a completed post-incident review, and a personal data
breach closed with the GDPR notification done, the law-enforcement decision recorded and the
review waived by the security lead.

Everything goes through the incidents' do_* actions, each given its moment in the past through
its ``now`` (and ``notified_at`` / ``decided_at``), so every timeline is written in order by the
actions themselves and its hash chain verifies; nothing is edited afterwards. The audit trail
records when the demo was loaded, as it does for the plan.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from django.utils import timezone

from bastion.accounts.models import Role, User
from bastion.incidents import actions, notices, review, updates
from bastion.incidents.actions import DeviationReason
from bastion.incidents.models import ActionItemStatus, Incident, NotificationStatus
from bastion.incidents.review import ActionItemInput
from bastion.people.models import Person, PersonStatus
from bastion.systems.models import BusinessSystem

# What each notification said, by rule (the demo records every one the rules call for).
SAID = {
    "internal-executive": "Briefed on the incident, its severity and the first containment steps; next briefing "
                          "with the status updates.",
    "internal-board": "The chair of the audit committee was told of a critical incident, what is affected and "
                      "that the board will get every status update.",
    "law-enforcement": "Reported the attack with the indicators we hold and asked for their guidance.",
    "cyber-insurer": "Notice of the incident under the policy, with the incident reference and a contact; the "
                     "insurer's breach coach was engaged.",
    "gdpr-33-authority": "Art. 33 notification: nature of the breach, the categories and approximate numbers of "
                         "people and records, the likely consequences and the measures taken; the DPO as contact.",
}
CHANNEL = {"gdpr-33-authority": "portal", "law-enforcement": "portal", "cyber-insurer": "phone"}


class _Cast:
    """The demo's users and directory people the incidents need."""

    def __init__(self) -> None:
        self.lead = User.objects.filter(role=Role.SECURITY_LEAD, is_active=True).order_by("pk").first()
        self.team = User.objects.filter(role=Role.SECURITY_TEAM, is_active=True).order_by("pk").first()
        if self.lead is None or self.team is None:
            raise RuntimeError("The demo incidents need the demo's security lead and team users.")
        self.people: dict[str, Person] = {}
        for p in Person.objects.filter(status=PersonStatus.ACTIVE, title__in=[
                "CISO", "Security Engineer", "Security Analyst", "General Counsel", "CIO", "CFO", "COO",
                "Chief Executive Officer"]).order_by("pk"):
            self.people.setdefault(p.title, p)
        self.ciso = self.lead.person or self.person("CISO")

    def person(self, title: str) -> Person:
        found = self.people.get(title)
        if found is None:
            raise RuntimeError(f"The demo incidents need a {title} in the directory.")
        return found


def _systems(*names: str) -> list[BusinessSystem]:
    return list(BusinessSystem.objects.filter(name__in=names).order_by("name"))


def _notify_all(cast: _Cast, incident: Incident, at: datetime, *, who: Person | None = None) -> None:
    """Record every notification due as done, at ``at`` (before its deadline)."""
    for row in incident.notifications.filter(status__in=[NotificationStatus.DUE, NotificationStatus.ESCALATED]):
        moment = min(at, row.deadline - timedelta(minutes=10)) if row.deadline else at
        actions.do_record_notification(
            acting_user=cast.lead, notification=row, notified_by=who or cast.ciso, notified_whom=row.recipient_label,
            notified_at=moment, channel=CHANNEL.get(row.rule_key, "email"),
            what_was_said=SAID.get(row.rule_key, f"Told of {incident.reference} and what is being done."), now=at)


def load_incidents(now: datetime | None = None) -> list[Incident]:
    """Load the three demo incidents (the plan must be published first: demo/response.py)."""
    now = now or timezone.now()
    cast = _Cast()
    return [_ransomware(cast, now - timedelta(days=26)), _breach(cast, now - timedelta(days=11)),
            _email_compromise(cast, now - timedelta(hours=5))]


def _clock(start: datetime) -> Callable[..., datetime]:
    def at(hours: float = 0, days: float = 0) -> datetime:
        return start + timedelta(hours=hours, days=days)
    return at


def _ransomware(cast: _Cast, start: datetime) -> Incident:
    at, lead, team = _clock(start), cast.lead, cast.team
    incident = actions.do_declare(
        acting_user=lead, now=at(), title="Ransomware on the warehouse servers",
        summary="Files on the WMS application servers and the depot file shares are encrypted; a ransom note "
                "names a known ransomware group. Picking has stopped in two distribution centres.",
        detected_at=at(-0.6), reported_by="Security monitoring (SIEM): mass file rename alert",
        type_key="ransomware", affected_systems=_systems("Manhattan WMS", "File shares", "Backup"),
        facts={"ransom_demanded": True, "criminal_activity_suspected": True},
        incident_commander=cast.ciso, scribe=cast.person("Security Analyst"), liaison=cast.person("CIO"),
        legal=cast.person("General Counsel"))
    actions.do_add_timeline_entry(
        acting_user=team, incident=incident, now=at(0.3), event_at=at(-0.5),
        text="Ransom note found on WMS-APP-02 and on the depot share; a photo of the note is attached.",
        evidence=("ransom-note-wms-app-02.txt", b"YOUR FILES ARE ENCRYPTED. Contact us within 72 hours ...\n"))
    actions.do_change_status(acting_user=lead, incident=incident, status="triage", now=at(0.4))
    actions.do_change_status(acting_user=lead, incident=incident, status="containment", now=at(0.6),
                             note="Encryption still spreading: containment first.")
    for key, hours in (("isolate", 0.8), ("stop-spread", 1.5), ("protect-backups", 1.7)):
        actions.do_complete_step(acting_user=team, incident=incident, step_key=key, now=at(hours))
    updates.do_send_update(
        acting_user=lead, incident=incident, now=at(2.2), next_update_at=at(6),
        what_happened="Ransomware encrypted the warehouse management servers and the depot file shares early "
                      "this morning.",
        containment="The affected servers are isolated, the spread has stopped and the backups are offline and "
                    "intact.",
        impact="Two distribution centres cannot pick orders; the others work on paper. No sign yet of data taken.",
        confidence="medium", unknowns="How the attackers got in, and whether any data left the network.",
        audiences=["executives"])
    actions.do_complete_step(acting_user=team, incident=incident, step_key="scope", now=at(5),
                             note="14 servers encrypted; firewall and proxy logs show no large outbound transfer.")
    actions.do_complete_step(acting_user=lead, incident=incident, step_key="legal-ransom", now=at(5.5),
                             note="Legal and the COO briefed: we do not intend to pay.")
    actions.do_record_law_enforcement_decision(
        acting_user=lead, incident=incident, decision="reported", decided_by=cast.ciso, decided_at=at(6), now=at(6),
        contact="National cybercrime unit, report reference NCU-2026-0412",
        rationale="A ransom was demanded and the group is known to law enforcement; reporting may help others and "
                  "is expected by the insurer. No downside to the recovery.")
    actions.do_complete_step(acting_user=lead, incident=incident, step_key="law-enforcement", now=at(6.1))
    _notify_all(cast, incident, at(6.1))
    actions.do_skip_step(
        acting_user=lead, incident=incident, step_key="insurer", now=at(6.2), deviation=DeviationReason(
            "The CFO had already given the insurer notice through our broker in the first hour, under the policy's "
            "notice clause, and the insurer's breach coach was on the call by then. A second notice from the "
            "security team would have opened a duplicate claim; the notification due is recorded as done.",
            cast.ciso, at(6.2)))
    updates.do_send_update(
        acting_user=lead, incident=incident, now=at(6.5), next_update_at=at(24),
        what_happened="As before: ransomware on the warehouse servers. It came in through a VPN account without "
                      "MFA.",
        containment="The account is disabled, the VPN now requires MFA for everyone, and we have reported the "
                    "attack to law enforcement.",
        impact="Picking is still stopped in two centres; about 1,200 orders are delayed by a day. No data theft "
               "found.", confidence="high", unknowns="When the warehouse servers will be back: rebuilding starts "
                                                     "tonight.",
        audiences=["executives", "customers"],
        customer_addresses=["logistics@customer-one.example", "ops@customer-two.example", "supply@customer-three.example"])
    actions.do_change_status(acting_user=lead, incident=incident, status="eradication", now=at(20))
    actions.do_complete_step(acting_user=team, incident=incident, step_key="eradicate", now=at(28),
                             note="Servers rebuilt from clean images; all admin passwords and keys rotated.")
    actions.do_change_status(acting_user=lead, incident=incident, status="recovery", now=at(29))
    actions.do_complete_step(acting_user=team, incident=incident, step_key="restore", now=at(40),
                             note="WMS restored first (tier 1), file shares next; last night's backup, nothing lost.")
    actions.do_complete_step(acting_user=team, incident=incident, step_key="monitor", now=at(days=7))
    owner_it, owner_sec = cast.person("CIO"), cast.person("Security Engineer")
    today = timezone.localdate()
    review.do_save_review(
        acting_user=lead, incident=incident, now=at(days=8), complete=True,
        root_cause="A contractor's VPN account without MFA, its password reused from a breached site; the "
                   "attackers moved from the VPN to the WMS servers with a domain admin's cached credentials.",
        what_worked="The SIEM alert within minutes of the first encryption; isolating the servers stopped the "
                    "spread; the offline backups were intact and restored cleanly.",
        what_did_not="MFA was not enforced on the VPN; the insurer step duplicated the CFO's notice.",
        plan_should_change=True,
        plan_changes="The ransomware playbook should say the insurer is notified by the CFO through the broker, "
                     "and the step only checks that it was done.",
        action_items=[
            ActionItemInput("Enforce MFA on every VPN account, contractors included", owner_it,
                            start.date() + timedelta(days=10), ActionItemStatus.DONE),
            ActionItemInput("Remove cached domain admin credentials from application servers", owner_sec,
                            today + timedelta(days=14)),
            ActionItemInput("Revise the ransomware playbook's insurer step (next plan version)", cast.ciso,
                            today + timedelta(days=30)),
        ])
    actions.do_change_status(acting_user=lead, incident=incident, status="closed", now=at(days=8, hours=1))
    return incident


def _breach(cast: _Cast, start: datetime) -> Incident:
    at, lead, team = _clock(start), cast.lead, cast.team
    incident = actions.do_declare(
        acting_user=lead, now=at(), title="Customer contact list shared by a public link",
        summary="A sales export with customer contacts (names, work emails, phone numbers) was shared from the CRM "
                "with a link anyone could open, and the link was posted in a supplier's public forum.",
        detected_at=at(-2), reported_by="A customer, by email to the privacy mailbox",
        type_key="data_breach", affected_systems=_systems("Salesforce CRM"), data_involved=["personal"],
        facts={"personal_data": True, "jurisdictions": ["DE", "FR", "NL"], "individuals_affected": 1840,
               "high_risk_to_individuals": False},
        clocks={"awareness": at(-2)}, incident_commander=cast.ciso, legal=cast.person("General Counsel"))
    actions.do_change_status(acting_user=lead, incident=incident, status="triage", now=at(0.2))
    actions.do_change_status(acting_user=lead, incident=incident, status="containment", now=at(0.5))
    actions.do_complete_step(acting_user=team, incident=incident, step_key="contain", now=at(0.7),
                             note="Link revoked; the forum removed the post at our request.")
    actions.do_complete_step(acting_user=lead, incident=incident, step_key="record-awareness", now=at(0.8),
                             note="Aware when the customer's email arrived, two hours before declaring.")
    actions.do_add_timeline_entry(
        acting_user=team, incident=incident, now=at(3), event_at=at(-30),
        text="The CRM's sharing log shows the link created 30 hours before the report, by a sales user exporting "
             "a campaign list; 11 downloads from outside the company.")
    actions.do_complete_step(acting_user=team, incident=incident, step_key="assess-data", now=at(5),
                             note="1,840 business contacts in Germany, France and the Netherlands; no special "
                                  "category data, no passwords.")
    actions.do_complete_step(acting_user=lead, incident=incident, step_key="assess-risk", now=at(20),
                             note="Risk to the people: phishing at worst; not high, so no art. 34 notice.")
    _notify_all(cast, incident, at(30), who=cast.person("General Counsel"))
    actions.do_complete_step(acting_user=lead, incident=incident, step_key="notify-authority", now=at(30.5))
    actions.do_skip_step(
        acting_user=lead, incident=incident, step_key="notify-people", now=at(31), deviation=DeviationReason(
            "The risk assessment found the risk to the people affected is not high (business contact details "
            "only, the link revoked within hours), so GDPR art. 34 does not require telling them; Legal agreed "
            "and the reasoning is in the breach register.", cast.person("General Counsel"), at(31)))
    actions.do_record_law_enforcement_decision(
        acting_user=lead, incident=incident, decision="not_reported", decided_by=cast.person("General Counsel"),
        decided_at=at(32), now=at(32), contact="",
        rationale="An employee's mistake, not a crime: nobody broke in and nothing suggests the list was used "
                  "for fraud. Nothing for law enforcement to act on.")
    actions.do_complete_step(acting_user=lead, incident=incident, step_key="record-breach", now=at(33))
    for status, hours in (("eradication", 34), ("recovery", 35)):
        actions.do_change_status(acting_user=lead, incident=incident, status=status, now=at(hours))
    review.do_waive_review(
        acting_user=lead, incident=incident, now=at(days=3),
        reason="The data protection committee reviewed this breach with the DPO (minutes DPC-2026-07) and set "
               "the actions: public sharing links are now disabled in the CRM. A second review would repeat it.")
    actions.do_change_status(acting_user=lead, incident=incident, status="closed", now=at(days=3, hours=1))
    return incident


def _email_compromise(cast: _Cast, start: datetime) -> Incident:
    at, lead, team = _clock(start), cast.lead, cast.team
    incident = actions.do_declare(
        acting_user=lead, now=at(), title="Supplier bank details changed by a fake email",
        summary="Accounts payable changed a haulier's bank details after an email from a look-alike domain and "
                "paid one invoice of EUR 86,400 to the new account this morning.",
        detected_at=at(-0.4), reported_by="Accounts payable, after the haulier chased the payment",
        type_key="business_email_compromise",
        affected_systems=_systems("Microsoft 365 email", "Treasury and banking"),
        facts={"criminal_activity_suspected": True}, incident_commander=cast.ciso,
        scribe=cast.person("Security Analyst"), legal=cast.person("General Counsel"))
    actions.do_change_status(acting_user=lead, incident=incident, status="triage", now=at(0.1))
    actions.do_complete_step(acting_user=lead, incident=incident, step_key="recall-payment", now=at(0.3),
                             note="Recall requested through the bank's fraud line, reference FR-55120.")
    actions.do_change_status(acting_user=lead, incident=incident, status="containment", now=at(0.5))
    actions.do_add_timeline_entry(
        acting_user=team, incident=incident, now=at(1), event_at=at(-1.5),
        text="Mail trace: the fake email came from haulier-payments.example, registered four days ago, and "
             "replied in the real thread: the haulier's own mailbox may be compromised.")
    actions.do_complete_step(acting_user=team, incident=incident, step_key="secure-mailbox", now=at(1.2),
                             note="Our accounts payable mailbox is clean: no forwarding rules, no unknown sign-ins.")
    executive = incident.notifications.filter(rule_key="internal-executive", status=NotificationStatus.DUE)
    for row in executive:
        if row.recipient_key != "role:executive_sponsor" and notices.recipients(row, incident).people:
            # Communications is told by email from Bastion, with the rule's message as pre-filled.
            notices.do_send_notification(acting_user=lead, notification=row, text=notices.fill_message(row, incident),
                                         now=at(1.5))
            continue
        actions.do_record_notification(
            acting_user=lead, notification=row, notified_by=cast.ciso, notified_whom=row.recipient_label,
            notified_at=at(1.4), channel="phone", what_was_said=SAID["internal-executive"], now=at(1.5))
    updates.do_send_update(
        acting_user=lead, incident=incident, now=at(2), next_update_at=at(7),
        what_happened="A fake email from a look-alike of a haulier's domain had an invoice paid to a fraudster's "
                      "account (EUR 86,400).",
        containment="The bank is recalling the payment; we are searching for other messages from the look-alike "
                    "domain and have warned the haulier.",
        impact="One payment so far; no sign our own mailboxes were broken into.",
        confidence="medium", unknowns="Whether the bank can recall the money, and whether other suppliers' "
                                      "details were changed.", audiences=["executives"])
    actions.do_add_timeline_entry(
        acting_user=team, incident=incident, now=at(3),
        text="Search under way: 3 other messages from the look-alike domain, to accounts payable; none acted on.")
    return incident
