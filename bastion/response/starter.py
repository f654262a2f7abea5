"""The starter incident response plan that ships with Bastion.

Organised along NIST SP 800-61 Rev. 3 ("Incident Response Recommendations and Considerations
for Cybersecurity Risk Management", April 2025), which places incident response in the six
functions of the NIST Cybersecurity Framework 2.0: Govern, Identify, Protect (preparation),
Detect, Respond and Recover. Its notification rules encode the common regulatory clocks, each
citing its source. Everything here is a starting point to edit: names of people are left for
the organisation to fill in, and rules that do not apply to it (e.g. SEC for a company that is
not listed in the US) should be switched off or deleted.
"""

import json

H = 60  # minutes in an hour, for the playbooks' expected durations


def _step(key: str, title: str, description: str, owner: str, minutes: int | None, required: bool = True) -> dict:
    return {"key": key, "title": title, "description": description, "owner_role": owner,
            "expected_minutes": minutes, "required": required}


SECTIONS = [
    {"key": "purpose", "title": "Purpose", "body": """\
This plan says how we prepare for, detect, respond to and recover from cybersecurity incidents,
who decides what, and who must be told what and by when. It exists so that on the worst day
nobody has to invent the process: people follow the plan, and where they cannot, they record why.

It follows NIST SP 800-61 Rev. 3, which treats incident response as part of managing
cybersecurity risk across the six functions of the NIST Cybersecurity Framework 2.0: **Govern,
Identify, Protect, Detect, Respond and Recover**. The sections below follow those functions.

This plan is approved by senior management. Everyone named in it, and everyone required to
read it, acknowledges the version in force."""},
    {"key": "scope", "title": "Scope", "body": """\
The plan covers every event that threatens the confidentiality, integrity or availability of our
information or systems, wherever they run (our offices, our cloud accounts, our suppliers'
services that hold our data) and whoever caused it (attackers, staff, suppliers, accidents).

It applies to all employees, contractors and temporary staff. Suppliers who run systems for us
must report incidents to us as their contracts require; their reports enter this process.

Physical security, business continuity and crisis management have their own plans; this plan
says where it hands over to them (see *Recover*)."""},
    {"key": "govern", "title": "Govern: ownership, authority and review", "body": """\
- The **plan owner** (the security lead) keeps this plan current, runs its yearly review and
  after every major incident proposes the changes the post-incident review calls for.
- The **approvers** named in Bastion (typically the CEO, the General Counsel and the CIO)
  approve each version. A version is in force only once every approver has approved that
  exact text.
- The **incident commander** has the authority, for the duration of an incident, to take
  systems offline, revoke access, engage outside responders up to the pre-approved budget, and
  call in anyone named in this plan at any hour.
- Decisions outside the commander's authority (paying a ransom, public statements, notifying
  regulators, involving law enforcement) go to the executive sponsor and Legal.
- The plan is reviewed at least every twelve months, after each major incident and after each
  exercise that found a gap."""},
    {"key": "identify_protect", "title": "Identify and Protect: being ready", "body": """\
Preparation is most of incident response.

- **Know what matters.** The systems register and the latest criticality review say which
  systems are crown jewels (tier 1); incidents touching them start at a higher severity.
- **Keep contacts current.** The roles in this plan are held by named people with deputies;
  the notification rules name regulators and partners with their contact details. Check both
  every quarter.
- **Keep the tools ready.** Central logging kept for at least 12 months, endpoint detection on
  every managed device, offline and tested backups of tier-1 systems, an out-of-band
  communication channel (phone bridge, a chat workspace outside our identity provider).
- **Retain help in advance.** An incident-response retainer, outside counsel experienced in
  breaches, and the cyber insurer's panel, so that no contract is negotiated mid-incident.
- **Train.** See *Training requirements*."""},
    {"key": "detect", "title": "Detect: reporting and analysing", "body": """\
- **Anyone** who suspects a security issue reports it at once to the security team (the
  report-phishing button, security@ our domain, or the on-call phone). Reporting something that
  turns out to be harmless is always right; waiting is not.
- The on-call analyst triages within **30 minutes**: is it an incident, which type, which
  systems and data are affected, how severe? Record the times of **detection** and of
  **awareness** (when we knew enough to believe an incident had occurred): regulatory clocks
  start from them.
- If it is an incident, the analyst **declares** it in Bastion with a type and severity and
  the incident commander takes over. Severity is reassessed as facts change; the notification
  rules are re-evaluated each time.
- Preserve evidence before changing anything you do not have to: take memory and disk images
  of affected machines where feasible, export relevant logs, and record who handled what."""},
    {"key": "respond", "title": "Respond: containing and eradicating", "body": """\
The incident commander runs the response by the playbook of the incident's type. The playbook
becomes a checklist in Bastion; a step skipped, reordered or done differently is a
**deviation** (see *Deviation policy*).

1. **Contain** first: stop the spread and the loss, even at the cost of availability, within
   the commander's authority.
2. **Notify** as the notification rules require. Legal confirms every external notification
   before it is sent; nobody else speaks to regulators, the press or law enforcement.
3. **Eradicate** the cause: remove malware and persistence, close the way in, rotate exposed
   credentials and keys.
4. **Update** on a fixed rhythm (every 2 hours for critical incidents, every business day for
   others) using the status-update structure: what happened, what we are doing, how bad it
   looks including what we do not know yet, when the next update comes."""},
    {"key": "recover", "title": "Recover: restoring and learning", "body": """\
- Restore from known-good backups or rebuilt systems, tier-1 systems first, and watch them
  closely for at least two weeks for signs that the attacker is back.
- Hand over to business continuity when a tier-1 system will be down beyond its maximum
  tolerable downtime, and to crisis management when the incident threatens the company as a whole.
- Within **10 business days** of closing a high or critical incident, hold a blameless
  post-incident review: the timeline, the root cause, what worked, every deviation and whether
  the plan should change, and action items with owners and due dates. Lessons become plan
  changes through the normal approval."""},
    {"key": "communication", "title": "Communication guidance", "body": """\
- **Be honest from the first hour.** Say what we know, what we are doing, and what we do not
  know yet. Never guess at numbers; never say "no data was affected" before it is established.
- **One voice.** Communications drafts; Legal reviews; the executive sponsor approves external
  statements. Staff refer every outside question to Communications.
- **Internal updates** follow the status-update structure and go to the incident channel and
  the executives on the agreed rhythm. A sent update is never edited: a correction is a new
  update that says what it corrects.
- **Use a channel the attacker cannot read.** If email or chat may be compromised, move to the
  out-of-band channel listed in *Identify and Protect*.
- **People affected** (customers, employees) are told in plain language what happened to their
  data, what we are doing, and what they should do, with a contact point."""},
    {"key": "law_enforcement", "title": "Law-enforcement guidance", "body": """\
- For every incident involving a suspected crime (extortion, fraud, theft of data or money,
  sabotage), the incident commander and Legal **consider** reporting to law enforcement, and
  record the decision and its reasons in the incident, whether or not we report.
- For business email compromise with money sent, call the bank at once to recall the transfer
  and report to the police (in the US, the FBI's IC3) the same day: recall chances fall by the hour.
- Ransom demands are reported before any decision on payment; paying may be illegal where the
  recipient is sanctioned, and is decided only by the executive sponsor with Legal.
- Only Legal speaks to law enforcement on the company's behalf. Preserve evidence with a chain
  of custody so that it stays usable."""},
    {"key": "deviation_policy", "title": "Deviation policy", "body": """\
Playbooks describe what usually works; the incident commander may depart from them when the
situation calls for it. Every deviation (a required step skipped, steps done in another order, or
a step done differently) is recorded in Bastion **at the time** with:

- what was done instead, and why;
- who decided, and when;
- what risk the deviation accepted.

A deviation cannot be saved without that explanation. Deviations are reviewed at the
post-incident review: each either confirms the playbook or changes it."""},
    {"key": "training", "title": "Training requirements", "body": """\
- Everyone required to follow this plan reads and acknowledges each new version within
  **14 days** of its publication.
- Everyone holding a role in this plan (and their deputies) takes part in at least **one
  tabletop exercise every 12 months**.
- Each playbook is exercised at least every **two years**; ransomware and personal-data breach
  every year.
- New members of the security team shadow an on-call analyst and complete the incident-handling
  course before their first on-call shift.
- All employees learn how to report a suspected incident in the yearly awareness training."""},
]

ROLES = [
    {"key": "incident_commander", "name": "Incident commander", "holders": [], "authority": """\
Leads the response from declaration to closure: sets priorities, assigns work, decides
containment within the authority this plan gives, and decides deviations from the playbook."""},
    {"key": "scribe", "name": "Scribe", "holders": [], "authority": """\
Keeps the incident's timeline in Bastion as it happens: decisions, actions, evidence references,
who was told what and when."""},
    {"key": "liaison", "name": "Liaison", "holders": [], "authority": """\
The link to the business, IT operations and outside parties (suppliers, the incident-response
retainer, the insurer): brings in the people the commander needs."""},
    {"key": "legal", "name": "Legal (General Counsel)", "holders": [], "authority": """\
Advises on legal obligations and privilege, approves every external notification and statement,
decides with the executive sponsor on law enforcement, and speaks to regulators."""},
    {"key": "communications", "name": "Communications", "holders": [], "authority": """\
Drafts internal and external communication, handles press and customer enquiries, and keeps the
messages consistent and honest."""},
    {"key": "executive_sponsor", "name": "Executive sponsor", "holders": [], "authority": """\
The member of senior management accountable for the response: approves decisions beyond the
commander's authority (ransom, public statements, major spend) and informs the board."""},
    {"key": "ceo", "name": "Chief executive", "holders": [], "authority": """\
Told within the hour when corporate liability is possible; decides on matters that engage the
company as a whole."""},
]

SEVERITIES = [
    {"key": "critical", "name": "Critical (SEV1)",
     "definition": "A threat to the company as a whole: a crown-jewel system down or under an attacker's control, "
                   "or a large breach of sensitive data.",
     "criteria": ["A tier-1 system unavailable beyond its maximum tolerable downtime, or controlled by an attacker",
                  "Ransomware spreading across systems",
                  "Sensitive personal, health or card data of many people confirmed taken",
                  "Likely to be material to investors or to require notifying regulators"]},
    {"key": "high", "name": "High (SEV2)",
     "definition": "Serious harm to a part of the business, or a confirmed breach of personal data.",
     "criteria": ["A tier-1 or tier-2 system impaired", "A confirmed compromise of a privileged account",
                  "Personal data confirmed exposed to an unauthorised party", "Money lost or at risk through fraud"]},
    {"key": "medium", "name": "Medium (SEV3)",
     "definition": "A confirmed incident contained to a small scope, with limited harm.",
     "criteria": ["A single user account or device compromised", "Malware contained on one machine",
                  "A tier-3 system impaired"]},
    {"key": "low", "name": "Low (SEV4)",
     "definition": "A minor event handled within normal operations, recorded to spot patterns.",
     "criteria": ["A phishing email reported before anyone acted on it", "A blocked attack with no impact"]},
]

INCIDENT_TYPES = [
    {"key": "ransomware", "name": "Ransomware and destructive malware",
     "description": "Files or systems encrypted or destroyed, usually with an extortion demand and often data theft before encryption.",
     "playbook": [
         _step("isolate", "Isolate affected machines", "Disconnect affected hosts from the network (EDR network containment or unplug); do not power them off, so memory evidence survives.", "incident_commander", 30),
         _step("stop-spread", "Stop the spread", "Disable accounts the attacker used, block the command-and-control addresses, suspend remote access and scheduled jobs that push software.", "incident_commander", 2 * H),
         _step("protect-backups", "Protect the backups", "Confirm offline and immutable backups are intact and disconnect backup systems from the network until the attacker is out.", "liaison", H),
         _step("scope", "Scope the encryption and any data theft", "List the encrypted systems and look for exfiltration (large outbound transfers, archive tools, cloud-storage uploads) to decide whether personal data was taken.", "incident_commander", 8 * H),
         _step("legal-ransom", "Brief Legal and the executive sponsor on the demand", "Share the ransom note unaltered. No contact with the attacker and no payment without the executive sponsor and Legal; check sanctions lists.", "legal", H),
         _step("law-enforcement", "Consider reporting to law enforcement", "Decide with Legal and record the decision and its reasons.", "legal", 24 * H),
         _step("insurer", "Notify the cyber insurer", "The policy requires prompt notice; use the insurer's panel responders where required.", "liaison", 24 * H),
         _step("eradicate", "Eradicate and rebuild", "Rebuild affected systems from known-good images, reset all privileged credentials (including service accounts and the Kerberos krbtgt key twice).", "incident_commander", 3 * 24 * H),
         _step("restore", "Restore from backups, tier-1 first", "Restore in the order of the criticality ranking, scanning restored data before reconnecting it.", "liaison", 3 * 24 * H),
         _step("monitor", "Watch for re-entry", "Heightened monitoring of restored systems for at least two weeks.", "incident_commander", None, required=False),
     ]},
    {"key": "data_breach", "name": "Personal data breach",
     "description": "Personal data lost, disclosed, altered or accessed without authorisation, by attack or by mistake.",
     "playbook": [
         _step("contain", "Stop the exposure", "Revoke the access, take down the exposed file or share, recall the misdirected email, or ask the recipient to delete it and confirm in writing.", "incident_commander", 2 * H),
         _step("record-awareness", "Record when we became aware", "Enter the awareness time in the incident: the GDPR's 72 hours run from it.", "scribe", 15),
         _step("assess-data", "Establish what data and whose", "Which categories of data (special categories, health, card, credentials), how many people, in which countries.", "incident_commander", 8 * H),
         _step("assess-risk", "Assess the risk to the people affected", "Likelihood and severity of harm to them (identity theft, fraud, discrimination, distress); decide whether it is a high risk (GDPR art. 34).", "legal", 24 * H),
         _step("notify-authority", "Notify the supervisory authority", "Within 72 hours of awareness unless the breach is unlikely to result in a risk; if information is missing, notify in phases.", "legal", 72 * H),
         _step("notify-people", "Tell the people affected when the risk is high", "In clear and plain language, with the likely consequences, what we are doing and what they can do.", "communications", None),
         _step("record-breach", "Record the breach in the breach register", "Art. 33(5) requires documenting every breach, notified or not, with facts, effects and remedial action.", "scribe", H),
     ]},
    {"key": "business_email_compromise", "name": "Business email compromise",
     "description": "A mailbox taken over or impersonated to divert payments or steal data.",
     "playbook": [
         _step("recall-payment", "Recall any payment at once", "Call the bank's fraud line to recall or freeze the transfer; every hour lowers the chance of recovery.", "liaison", 30),
         _step("secure-mailbox", "Secure the mailbox", "Reset the password, revoke sessions and tokens, remove attacker inbox rules, forwarding and registered MFA methods.", "incident_commander", H),
         _step("search-mail", "Find other victims and messages", "Search all mailboxes for the same sender, subject and links; remove them; check whether the attacker read or sent mail from the account.", "incident_commander", 4 * H),
         _step("warn-partners", "Warn affected customers and suppliers", "Tell anyone who received fraudulent instructions from us, by phone on a known number.", "communications", 24 * H),
         _step("report-police", "Report to law enforcement", "Report fraud the same day (in the US the FBI's IC3, elsewhere the national fraud or cybercrime unit); record the reference.", "legal", 24 * H),
         _step("payment-controls", "Tighten payment verification", "Confirm that changes of bank details are verified by phone on a known number before any payment.", "executive_sponsor", None, required=False),
     ]},
    {"key": "account_compromise", "name": "Account compromise",
     "description": "A user, privileged or service account used by someone else.",
     "playbook": [
         _step("disable", "Disable or reset the account", "Reset credentials, revoke sessions, tokens and API keys; re-enrol MFA in person or by video.", "incident_commander", 30),
         _step("review-activity", "Review what the account did", "Sign-ins, changed permissions, data accessed or downloaded, new accounts or keys created.", "incident_commander", 4 * H),
         _step("privileged-check", "If privileged: treat as critical", "Assume every system the account administered is compromised until shown otherwise.", "incident_commander", H),
         _step("root-cause", "Find how it was taken", "Phishing, password reuse, MFA fatigue, stolen token, malware on the device; close that way in.", "incident_commander", 24 * H),
         _step("tell-user", "Tell the user what to do", "Change reused passwords elsewhere; report anything unexpected.", "communications", 24 * H, required=False),
     ]},
    {"key": "availability", "name": "Denial of service and availability loss",
     "description": "A service unavailable through attack (DDoS) or failure of a system or supplier.",
     "playbook": [
         _step("confirm", "Confirm the cause", "Attack traffic, capacity, a failed change or a supplier outage; check the supplier's status page.", "incident_commander", 30),
         _step("mitigate", "Engage DDoS protection or the supplier", "Enable upstream scrubbing, rate limiting or geo-blocking; open a priority case with the provider.", "liaison", H),
         _step("mtd-check", "Compare with the maximum tolerable downtime", "If the system will be down beyond its MTD, invoke business continuity.", "executive_sponsor", 2 * H),
         _step("status-page", "Tell customers", "Publish and update the status page on the agreed rhythm.", "communications", H),
         _step("extortion", "Watch for an extortion demand", "DDoS often comes with a ransom note; handle it as in the ransomware playbook.", "legal", None, required=False),
     ]},
    {"key": "insider", "name": "Insider misuse",
     "description": "Someone with legitimate access misusing it: data taken by a leaver, sabotage, snooping.",
     "playbook": [
         _step("legal-hr-first", "Involve Legal and HR before acting", "Agree the approach; keep the circle small and the investigation confidential.", "legal", 4 * H),
         _step("preserve", "Preserve evidence quietly", "Hold the person's mailbox and files, image their devices, export access logs, without alerting them.", "incident_commander", 8 * H),
         _step("limit-access", "Limit access", "Remove or narrow the person's access at the moment agreed with HR and Legal.", "incident_commander", H),
         _step("recover-data", "Recover the data", "Ask for return and deletion with written confirmation; consider legal remedies.", "legal", 5 * 24 * H),
         _step("assess-breach", "Assess whether it is a personal data breach", "If personal data left our control, follow the personal data breach playbook as well.", "legal", 24 * H),
     ]},
]

US_HOLIDAYS = [
    "2026-01-01", "2026-01-19", "2026-02-16", "2026-05-25", "2026-06-19", "2026-07-03", "2026-09-07",
    "2026-10-12", "2026-11-11", "2026-11-26", "2026-12-25",
    "2027-01-01", "2027-01-18", "2027-02-15", "2027-05-31", "2027-06-18", "2027-07-05", "2027-09-06",
    "2027-10-11", "2027-11-11", "2027-11-25", "2027-12-24", "2027-12-31",
]

CALENDARS = [
    {"key": "US", "name": "United States federal holidays (SEC EDGAR closed); update every year",
     "time_zone": "America/New_York", "holidays": US_HOLIDAYS},
]

SUPERVISORY_AUTHORITY = {"kind": "external", "name": "Lead data protection supervisory authority",
                         "contact": "Fill in: the authority's breach-notification form (e.g. the ICO, CNIL, the Irish DPC)"}
CSIRT = {"kind": "external", "name": "National CSIRT or competent authority (NIS2)",
         "contact": "Fill in: the national single point of contact's reporting portal"}
BOARD = {"kind": "external", "name": "Board of directors (chair of the audit or risk committee)",
         "contact": "Fill in: through the company secretary"}
INSURER = {"kind": "external", "name": "Cyber insurance carrier", "contact": "Fill in: the policy's claims hotline"}
DORA_AUTHORITY = {"kind": "external", "name": "Competent financial supervisor (DORA)",
                  "contact": "Fill in: the supervisor's major ICT incident reporting channel"}


def _rule(key, name, description, when, recipients, deadline, channel, message) -> dict:
    return {"key": key, "name": name, "description": description, "enabled": True, "when": when,
            "recipients": recipients, "deadline": deadline, "channel": channel, "message": message}


def _is(fact: str, value=True, op: str = "is") -> dict:
    return {"fact": fact, "op": op, "value": value}


# NIS2 applies in the EU's member states; the GDPR in the whole EEA (the EU, Iceland,
# Liechtenstein and Norway). The evaluator matches "EU" and "EEA" against member-state codes.
EU = _is("jurisdictions", ["EU"], "any_of")
EEA = _is("jurisdictions", ["EEA"], "any_of")

RULES = [
    _rule("internal-liability", "General Counsel and CEO: corporate liability possible",
          "Internal escalation: the General Counsel and the chief executive are told within one hour of corporate "
          "liability being flagged as possible, so that privilege, disclosure and insurance decisions are taken in time. "
          "Source: this plan (Govern); NIST SP 800-61r3 on involving legal counsel and senior leadership.",
          {"all": [_is("corporate_liability_possible")]},
          [{"kind": "role", "role": "legal"}, {"kind": "role", "role": "ceo"}],
          {"clock": "liability_flagged", "amount": 1, "unit": "hours"}, "phone",
          "Incident {incident} ({severity}): corporate liability is possible. Call the incident commander now."),
    _rule("internal-executive", "Executive sponsor: high or critical incident",
          "Internal escalation: the executive sponsor is told within 2 hours of declaring an incident of high or "
          "critical severity. Source: this plan (Govern).",
          {"all": [_is("severity", "high", "at_least")]},
          [{"kind": "role", "role": "executive_sponsor"}, {"kind": "role", "role": "communications"}],
          {"clock": "declaration", "amount": 2, "unit": "hours"}, "phone",
          "Incident {incident} declared at severity {severity}: {summary}"),
    _rule("internal-board", "Board: critical incident",
          "The board (through the chair of the audit or risk committee) is briefed within 24 hours of declaration of a "
          "critical incident. Source: this plan (Govern); SEC Regulation S-K item 106 on the board's oversight of "
          "cybersecurity risk.",
          {"all": [_is("severity", "critical", "at_least")]},
          [BOARD], {"clock": "declaration", "amount": 24, "unit": "hours"}, "phone",
          "Board briefing on incident {incident} ({severity}): {summary}"),
    _rule("internal-board-material", "Board: material incident",
          "The board (through the chair of the audit or risk committee) is briefed within 24 hours of an incident being "
          "determined to be material, whatever its severity, before any public disclosure. Source: this plan (Govern); "
          "SEC Regulation S-K item 106 on the board's oversight of cybersecurity risk.",
          {"all": [_is("materiality_determined")]},
          [BOARD], {"clock": "materiality_determination", "amount": 24, "unit": "hours"}, "phone",
          "Board briefing on incident {incident}, determined to be material: {summary}"),
    _rule("law-enforcement", "Law enforcement: consider and record the decision",
          "When a crime is suspected or a ransom is demanded, Legal and the incident commander consider reporting to "
          "law enforcement within 24 hours of declaration and record the decision and its reasons, whether or not "
          "they report. Source: this plan (Law-enforcement guidance); NIST SP 800-61r3.",
          {"any": [_is("criminal_activity_suspected"), _is("ransom_demanded")]},
          [{"kind": "external", "name": "Law enforcement (national cybercrime unit; in the US the FBI via IC3 or the local field office)",
            "contact": "Fill in: the cybercrime unit's reporting line"}],
          {"clock": "declaration", "amount": 24, "unit": "hours"}, "phone",
          "Decision needed: report incident {incident} to law enforcement? Record the decision and reasons."),
    _rule("ransom-paid", "Ransom paid: executive sponsor, Legal, insurer",
          "If a ransom is paid, Legal confirms sanctions screening was done, and the executive sponsor and the cyber "
          "insurer are told, within 24 hours of the payment; some jurisdictions require reporting ransom payments. "
          "Source: this plan; OFAC advisory on ransomware payments (21 September 2021).",
          {"all": [_is("ransom_paid")]},
          [{"kind": "role", "role": "legal"}, {"kind": "role", "role": "executive_sponsor"}, INSURER],
          {"clock": "ransom_payment", "amount": 24, "unit": "hours",
           "note": "counted from the payment itself, which comes days after declaration; the insurer's consent is "
                   "sought before paying"}, "email",
          "A ransom was paid in incident {incident}: confirm sanctions screening and regulatory reporting."),
    _rule("cyber-insurer", "Cyber insurer: notice of a high or critical incident",
          "Most cyber policies require notice as soon as practicable and before incurring covered costs; we aim for 24 "
          "hours from declaration. Source: the cyber insurance policy's notice clause (check its wording).",
          {"all": [_is("severity", "high", "at_least")]},
          [INSURER],
          {"clock": "declaration", "amount": 24, "unit": "hours"}, "phone",
          "Notice of a potential claim: incident {incident} ({severity}). Contact: {contact}"),
    _rule("gdpr-33-authority", "GDPR art. 33: notify the supervisory authority",
          "A personal data breach affecting people in the EEA (the EU, Iceland, Liechtenstein, Norway) is notified to the lead supervisory authority without undue "
          "delay and, where feasible, not later than 72 hours after becoming aware of it, unless it is unlikely to "
          "result in a risk to people's rights and freedoms (Legal records that judgement). Source: Regulation (EU) "
          "2016/679 (GDPR), art. 33(1); EDPB Guidelines 9/2022 on personal data breach notification.",
          {"all": [_is("personal_data"), EEA]},
          [SUPERVISORY_AUTHORITY, {"kind": "role", "role": "legal"}],
          {"clock": "awareness", "amount": 72, "unit": "hours"}, "portal",
          "Personal data breach notification (art. 33 GDPR) for incident {incident}: {summary}"),
    _rule("gdpr-34-individuals", "GDPR art. 34: tell the people affected (high risk)",
          "When a personal data breach is likely to result in a high risk to people's rights and freedoms, they are told "
          "without undue delay, in clear and plain language. Source: Regulation (EU) 2016/679 (GDPR), art. 34.",
          {"all": [_is("personal_data"), _is("high_risk_to_individuals"), EEA]},
          [{"kind": "external", "name": "The people whose data is affected", "contact": "Their contact details on file"},
           {"kind": "role", "role": "communications"}],
          {"clock": "awareness", "amount": 72, "unit": "hours",
           "note": "the law says without undue delay; 72 hours is our own target"}, "email",
          "What happened to your data, what we are doing, and what you can do: {summary}"),
    _rule("nis2-early-warning", "NIS2 art. 23: early warning (24 hours)",
          "An essential or important entity gives the CSIRT or competent authority an early warning of a significant "
          "incident without undue delay and within 24 hours of becoming aware of it, saying whether it may be caused by "
          "unlawful or malicious acts or have a cross-border impact. Source: Directive (EU) 2022/2555 (NIS2), art. 23(4)(a).",
          {"all": [_is("significant_incident"), EU]},
          [CSIRT], {"clock": "awareness", "amount": 24, "unit": "hours"}, "portal",
          "NIS2 early warning for incident {incident}: {summary}"),
    _rule("nis2-notification", "NIS2 art. 23: incident notification (72 hours)",
          "Within 72 hours of becoming aware of a significant incident, an incident notification updating the early "
          "warning with an initial assessment (severity, impact, indicators of compromise). Source: Directive (EU) "
          "2022/2555 (NIS2), art. 23(4)(b).",
          {"all": [_is("significant_incident"), EU]},
          [CSIRT], {"clock": "awareness", "amount": 72, "unit": "hours"}, "portal",
          "NIS2 incident notification for incident {incident}: {summary}"),
    _rule("nis2-final-report", "NIS2 art. 23: final report (1 month)",
          "A final report not later than one month after the incident notification: a detailed description, the root "
          "cause, the mitigation applied and any cross-border impact. Source: Directive (EU) 2022/2555 (NIS2), art. "
          "23(4)(d).",
          {"all": [_is("significant_incident"), EU]},
          [CSIRT], {"clock": "awareness", "amount": 1, "unit": "months",
                    "note": "the directive counts the month from the incident notification; counting from awareness is earlier, so safe"},
          "portal", "NIS2 final report for incident {incident}: {summary}"),
    _rule("dora-initial", "DORA: initial notification of a major ICT incident",
          "A financial entity notifies its competent authority of a major ICT-related incident within 4 hours of "
          "classifying it as major, and no later than 24 hours after becoming aware of it. Source: Regulation (EU) "
          "2022/2554 (DORA), art. 19; Commission Delegated Regulation (EU) 2025/301, art. 5.",
          {"all": [_is("classified_major")]},
          [DORA_AUTHORITY], {"clock": "major_classification", "amount": 4, "unit": "hours",
                             "no_later_than": {"clock": "awareness", "amount": 24, "unit": "hours"}},
          "portal", "DORA initial notification of major ICT-related incident {incident}: {summary}"),
    _rule("dora-intermediate", "DORA: intermediate report (72 hours)",
          "An intermediate report within 72 hours of the initial notification. Source: Regulation (EU) 2022/2554 (DORA), "
          "art. 19(4)(b); Commission Delegated Regulation (EU) 2025/301, art. 5.",
          {"all": [_is("classified_major")]},
          [DORA_AUTHORITY], {"clock": "major_classification", "amount": 72, "unit": "hours",
                             "note": "the regulation counts from the initial notification, which is sent after classification; counting from classification is safe"},
          "portal", "DORA intermediate report for incident {incident}: {summary}"),
    _rule("dora-final", "DORA: final report (1 month)",
          "A final report within one month of the latest intermediate report, with the root cause and the actual "
          "impact. Source: Regulation (EU) 2022/2554 (DORA), art. 19(4)(c); Commission Delegated Regulation (EU) "
          "2025/301, art. 5.",
          {"all": [_is("classified_major")]},
          [DORA_AUTHORITY], {"clock": "major_classification", "amount": 1, "unit": "months"},
          "portal", "DORA final report for incident {incident}: {summary}"),
    _rule("sec-8k-105", "SEC Form 8-K item 1.05: material cybersecurity incident",
          "A company registered with the SEC files a Form 8-K under item 1.05 within four business days after "
          "determining that a cybersecurity incident is material (the determination itself is made without "
          "unreasonable delay). Source: SEC Form 8-K, General Instruction B.1 and item 1.05; SEC Release 33-11216 "
          "(2023). Switch this rule off if the company is not an SEC registrant.",
          {"all": [_is("materiality_determined")]},
          [{"kind": "external", "name": "U.S. Securities and Exchange Commission (Form 8-K via EDGAR)",
            "contact": "Through the company's SEC filing agent"}, {"kind": "role", "role": "legal"}],
          {"clock": "materiality_determination", "amount": 4, "unit": "business_days", "calendar": "US"},
          "filing", "Form 8-K item 1.05: material cybersecurity incident {incident}"),
    _rule("hipaa-individuals", "HIPAA: notify the individuals affected (60 days)",
          "A covered entity notifies each individual whose unsecured protected health information was breached without "
          "unreasonable delay and no later than 60 calendar days after discovering the breach. Source: 45 CFR 164.404.",
          {"all": [_is("regulated_data", ["health"], "any_of"), _is("jurisdictions", ["US"], "any_of")]},
          [{"kind": "external", "name": "The individuals whose health information is affected",
            "contact": "First-class mail to their last known address"}],
          {"clock": "awareness", "amount": 60, "unit": "days"}, "letter",
          "Notice of a breach of your health information: {summary}"),
    _rule("hipaa-hhs-500", "HIPAA: notify HHS and the media (500 or more)",
          "A breach of unsecured protected health information affecting 500 or more individuals is reported to the "
          "Secretary of HHS (and to prominent media outlets in a state where more than 500 residents are affected) "
          "within 60 days of discovery; smaller breaches are logged and reported yearly. Source: 45 CFR 164.406 and "
          "164.408.",
          {"all": [_is("regulated_data", ["health"], "any_of"), _is("jurisdictions", ["US"], "any_of"),
                   _is("individuals_affected", 500, "at_least")]},
          [{"kind": "external", "name": "U.S. Department of Health and Human Services (OCR breach portal)",
            "contact": "https://ocrportal.hhs.gov/ocr/breach"},
           {"kind": "external", "name": "Prominent media outlets in the affected states", "contact": ""}],
          {"clock": "awareness", "amount": 60, "unit": "days"}, "portal",
          "HIPAA breach report for incident {incident}: {summary}"),
]


def starter_content() -> dict:
    """A fresh copy of the starter plan's content (safe to change: a JSON round trip, so rules
    that name the same body do not share one dict)."""
    return json.loads(json.dumps({
        "title": "Incident response plan",
        "sections": SECTIONS,
        "roles": ROLES,
        "severities": SEVERITIES,
        "incident_types": INCIDENT_TYPES,
        "calendars": CALENDARS,
        "rules": RULES,
    }))
