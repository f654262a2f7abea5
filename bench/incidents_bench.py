"""Incidents at the size of a large company: 10,000 incidents over five years with 500,000
timeline entries in all (most incidents a few dozen, some hundreds, one of 2,000 with evidence
files), checklists and notifications due copied from real declarations, some restricted. Times
the incident list page and API, an incident's page and API for typical incidents and for the
2,000-entry one, and that incident's dossier (JSON and PDF). Server time, through Django's test
client.

The bulk of the data is inserted with lib/bulk.py, but every timeline is a valid hash chain (each
entry's hash computed by TimelineEntry.compute_hash, as incidents/timeline.py does), and a
sample of chains is verified before timing. Inserts are all the timeline's append-only guard
allows (audit/guard.py): this bench changes and deletes no entry.
"""

import hashlib
import logging
import os
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bastion.settings")

import django  # noqa: E402

django.setup()

logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)  # a line per page laid out

from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from latency import latency  # noqa: E402

from bastion.accounts.actions import do_create_token  # noqa: E402
from bastion.accounts.models import MfaPolicy, Role, User  # noqa: E402
from bastion.audit import guard  # noqa: E402
from bastion.incidents import actions, dossier, timeline  # noqa: E402
from bastion.incidents.models import (  # noqa: E402
    GENESIS_HASH,
    ChecklistStep,
    Deviation,
    DeviationKind,
    EntryKind,
    Incident,
    NotificationDue,
    NotificationStatus,
    Status,
    StatusUpdate,
    StepState,
    TimelineEntry,
)
from bastion.lib.bulk import insert_rows  # noqa: E402
from bastion.people.models import Person  # noqa: E402
from bastion.response import actions as plan_actions  # noqa: E402
from bastion.response.models import Plan, PlanVersion  # noqa: E402
from bastion.systems.models import BusinessSystem  # noqa: E402

INCIDENTS = int(os.environ.get("BENCH_INCIDENTS", "10000"))
ENTRIES = int(os.environ.get("BENCH_TIMELINE", "500000"))
BIG_ENTRIES = 2000
SYSTEMS = int(os.environ.get("BENCH_SYSTEMS", "5000"))
DOSSIER_TARGET_S = 5
CHUNK = 400  # incidents per bulk round
REUSE = os.environ.get("BENCH_REUSE") == "1"
TITLE = "Bench incident"
BIG_TITLE = "Bench: ransomware on the warehouse systems (2,000 entries)"

FACTS_BY_TYPE = {
    "data_breach": {"personal_data": True, "jurisdictions": ["EU"]},
    "ransomware": {"ransom_demanded": True, "personal_data": True, "jurisdictions": ["EU"]},
    "business_email_compromise": {"personal_data": False},
}
NOTES = [
    "Isolated the affected host from the network; EDR shows no further beaconing.",
    "Reset the credentials of the affected account and revoked its sessions and tokens.",
    "Pulled the firewall logs for the last 72 hours; looking for the first connection to the C2 address.",
    "Legal asked whether customer data left the network; no exfiltration seen in the proxy logs so far.",
    "The vendor confirmed the vulnerability and sent a hotfix; testing it on a staging server.",
    "Restored the file server from the 02:00 snapshot; checksums match the backup catalogue.",
    "Called the bank's fraud line; the payment is frozen pending their investigation.",
    "Blocked the sender domain at the mail gateway and purged 37 copies of the message from mailboxes.",
    "Shift handover: containment holding, eradication of the persistence mechanism scheduled for tonight.",
    "Interviewed the user who reported it; they clicked the link at 08:12 and entered their password.",
    "The insurer's breach coach joined the bridge and asked for the timeline so far.",
    "Imaged the laptop's disk for forensics (chain of custody form signed).",
]
KINDS = [EntryKind.NOTE] * 6 + [EntryKind.STEP] * 2 + [EntryKind.STATUS, EntryKind.NOTIFICATION, EntryKind.UPDATE,
                                                        EntryKind.FACTS, EntryKind.EVIDENCE]


def timed(label: str, target_s: float, fn):
    """Wall time, and this process's CPU time: on a machine busy with other work the two part."""
    started, cpu = time.perf_counter(), time.process_time()
    value = fn()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    verdict = "OK" if elapsed < target_s else "SLOW"
    print(f"{label:<44} {elapsed:6.2f} s (CPU {cpu:.2f} s)  (target < {target_s:.0f} s) {verdict}", flush=True)
    return value


# --- the organisation --------------------------------------------------------------------------

def user(email: str, role: str, person: Person | None = None) -> User:
    return User.objects.filter(email=email).first() or User.objects.create_user(
        email=email, role=role, person=person, full_name=email.split("@")[0])


def person(n: int, title: str) -> Person:
    return Person.objects.get_or_create(employee_id=f"BI{n:04d}", defaults={
        "email": f"bench-incidents-{n}@example.com", "first_name": f"Responder{n}", "last_name": "Bench",
        "title": title, "department": "Security"})[0]


def published_plan(lead: User) -> PlanVersion:
    plan = Plan.current()
    version = plan.published() if plan is not None else None
    if version is not None:
        return version
    ceo = user("bench-incidents-ceo@example.com", Role.EXECUTIVE, person(9001, "Chief Executive Officer"))
    counsel = user("bench-incidents-counsel@example.com", Role.EXECUTIVE, person(9002, "General Counsel"))
    plan = plan_actions.install_starter_plan(acting_user=lead)
    plan = plan_actions.do_update_plan_settings(acting_user=lead, plan=plan, approvers=[ceo, counsel],
                                                reader_roles=["employee"])
    plan_actions.do_submit_for_review(acting_user=lead, plan=plan)
    working = plan.working_version()
    assert working is not None
    for approver in (ceo, counsel):
        plan_actions.do_decide(acting_user=approver, plan=plan, version_number=working.number,
                               content_hash=working.content_hash, decision="approved")
    version = Plan.current().published()  # type: ignore[union-attr]
    assert version is not None
    return version


def business_systems() -> list[int]:
    """The organisation's 5,000 systems (the reviews bench's, when it ran first); incidents
    affect the first 200."""
    missing = SYSTEMS - BusinessSystem.objects.count()
    if missing > 0:
        BusinessSystem.objects.bulk_create([BusinessSystem(name=f"Bench incidents system {i:04d}")
                                            for i in range(missing)], batch_size=1000)
    return list(BusinessSystem.objects.order_by("pk").values_list("pk", flat=True)[:200])


# --- timelines ---------------------------------------------------------------------------------

class Chain:
    """Builds timeline rows for one incident, each hashed as timeline.append hashes it."""

    def __init__(self, incident_id: int, seq: int = 0, head: str = GENESIS_HASH) -> None:
        self.incident_id, self.seq, self.head = incident_id, seq, head
        self.rows: list[dict] = []

    def add(self, *, kind: str, text: str, event_at: datetime, author: User,
            evidence: tuple[str, bytes] | None = None) -> None:
        self.seq += 1
        entry = TimelineEntry(incident_id=self.incident_id, seq=self.seq, event_at=event_at,
                              recorded_at=event_at + timedelta(minutes=self.seq % 7), author_id=author.pk,
                              author_label=author.email, kind=kind, text=text, prev_hash=self.head)
        if evidence is not None:
            entry.evidence_name, entry.evidence = evidence
            entry.evidence_sha256 = hashlib.sha256(evidence[1]).hexdigest()
            entry.evidence_size = len(evidence[1])
        entry.hash = self.head = entry.compute_hash()
        self.rows.append({
            "incident_id": entry.incident_id, "seq": entry.seq, "event_at": entry.event_at,
            "recorded_at": entry.recorded_at, "author_id": entry.author_id, "author_label": entry.author_label,
            "kind": entry.kind, "text": entry.text, "evidence_name": entry.evidence_name,
            "evidence_sha256": entry.evidence_sha256, "evidence_size": entry.evidence_size,
            "evidence": entry.evidence, "prev_hash": entry.prev_hash, "hash": entry.hash})


def entry_counts(rng: random.Random, n: int, total: int) -> list[int]:
    """A long-tailed spread: most incidents a few dozen entries, a few hundreds (at most 1,500)."""
    raw = [rng.lognormvariate(0, 0.9) for _ in range(n)]
    scale = total / sum(raw)
    counts = [max(3, min(1500, round(r * scale))) for r in raw]
    diff = total - sum(counts)
    i = 0
    while diff:
        step = 1 if diff > 0 else -1
        if 3 < counts[i % n] + step <= 1500:
            counts[i % n] += step
            diff -= step
        i += 1
    return counts


def fill(chain: Chain, rng: random.Random, count: int, start: datetime, end: datetime, authors: list[User],
         evidence_every: int = 0) -> None:
    span = max((end - start).total_seconds(), 60.0)
    for k in range(count):
        at = start + timedelta(seconds=span * (k + 1) / (count + 1))
        kind = rng.choice(KINDS)
        evidence = None
        if evidence_every and k % evidence_every == 0:
            size = rng.randrange(1_000, 64_000)
            evidence = (f"capture-{chain.seq + 1:04d}.log", rng.randbytes(size))
            kind = EntryKind.EVIDENCE
        chain.add(kind=kind, text=f"{rng.choice(NOTES)} (#{chain.seq + 1})", event_at=at.replace(microsecond=0),
                  author=rng.choice(authors), evidence=evidence)


# --- building ----------------------------------------------------------------------------------

def templates(lead: User, commander: Person, systems: list[int], now: datetime) -> dict[str, Incident]:
    """One incident per type declared through do_declare: what a real declaration writes (its
    checklist and notifications due), copied for the bulk incidents of that type."""
    content = Plan.current().published().content  # type: ignore[union-attr]
    made = {}
    for n, kind in enumerate(content["incident_types"]):
        key = kind["key"]
        made[key] = actions.do_declare(
            acting_user=lead, title=f"{TITLE} template: {kind.get('name', key)}", summary="Declared for the bench.",
            detected_at=now - timedelta(days=400 + n, hours=2), reported_by="SIEM rule 4711", type_key=key,
            affected_systems=list(BusinessSystem.objects.filter(pk__in=systems[n:n + 2])),
            facts=FACTS_BY_TYPE.get(key, {}), incident_commander=commander, now=now - timedelta(days=400 + n))
    return made


def big_incident(rng: random.Random, lead: User, team: User, commander: Person, systems: list[int],
                 now: datetime) -> Incident:
    """The long one: declared through do_declare, then 2,000 entries in all, one in 25 with an
    evidence file (1-64 KB), 20 status updates and three deviations."""
    declared = now - timedelta(days=30)
    incident = actions.do_declare(
        acting_user=lead, title=BIG_TITLE, summary="Files encrypted on the warehouse servers; ransom note found.",
        detected_at=declared - timedelta(hours=3), reported_by="EDR alert", type_key="ransomware",
        affected_systems=list(BusinessSystem.objects.filter(pk__in=systems[:4])),
        facts=FACTS_BY_TYPE["ransomware"], incident_commander=commander, now=declared)
    last = incident.timeline.order_by("-seq").values("seq", "hash").first()
    assert last is not None
    chain = Chain(incident.pk, last["seq"], last["hash"])
    fill(chain, rng, BIG_ENTRIES - last["seq"], declared, now - timedelta(hours=1), [lead, team], evidence_every=25)
    with transaction.atomic():
        insert_rows(TimelineEntry, chain.rows)
        Incident.objects.filter(pk=incident.pk).update(status=Status.CONTAINMENT, updated_at=now)
        insert_rows(StatusUpdate, [{
            "incident_id": incident.pk, "number": n, "what_happened": f"Update {n}: {rng.choice(NOTES)}",
            "containment": "Affected servers isolated; backups verified clean.", "impact": "Warehouse picking slowed.",
            "confidence": "medium", "unknowns": "Whether data left the network.",
            "next_update_at": declared + timedelta(hours=4 * n + 4), "audiences": ["executives"],
            "customer_addresses": [], "recipient_count": 12, "corrects_id": None,
            "sent_at": declared + timedelta(hours=4 * n), "sent_by_id": lead.pk} for n in range(1, 21)])
        steps = list(incident.steps.order_by("order")[:3])
        insert_rows(Deviation, [{
            "incident_id": incident.pk, "step_id": s.pk, "kind": DeviationKind.DONE_DIFFERENTLY,
            "explanation": "The plan's isolation step would have stopped the warehouse; we segmented instead.",
            "decided_by_id": commander.pk, "decided_at": declared + timedelta(hours=1 + i), "recorded_by_id": lead.pk,
            "recorded_at": declared + timedelta(hours=1 + i)} for i, s in enumerate(steps)])
    return incident


def bulk_incidents(rng: random.Random, lead: User, team: User, commanders: list[Person], systems: list[int],
                   version: PlanVersion, made: dict[str, Incident], budget: int, count: int, now: datetime) -> None:
    severities = ["critical", "high", "high", "medium", "medium", "medium", "low", "low"]
    open_statuses = [Status.DETECTION, Status.TRIAGE, Status.CONTAINMENT, Status.ERADICATION, Status.RECOVERY]
    counts = entry_counts(rng, count, budget)
    steps = {key: list(inc.steps.order_by("order").values("step_key", "title", "description", "owner_role", "order",
                                                         "required")) for key, inc in made.items()}
    notices = {key: list(inc.notifications.values("rule_key", "rule_name", "recipient_key", "recipient_label",
                                                  "recipient", "deadline", "reason", "channel", "message"))
               for key, inc in made.items()}
    through_members = Incident.members.through
    through_systems = Incident.affected_systems.through
    five_years = 5 * 365 * 24 * 3600
    for start in range(0, count, CHUNK):
        n = min(CHUNK, count - start)
        rows, meta = [], []
        for i in range(start, start + n):
            key = rng.choice(list(made))
            declared = (now - timedelta(seconds=rng.randrange(3600, five_years))).replace(microsecond=0)
            closed = rng.random() < 0.85 and declared < now - timedelta(days=10)
            status = Status.CLOSED if closed else rng.choice(open_statuses)
            ends = declared + timedelta(days=rng.randrange(1, 20))
            restricted = rng.random() < 0.05
            severity = rng.choice(severities)
            rows.append({
                "title": f"{TITLE} {i + 1:05d}: {made[key].incident_type().get('name', key)}",
                "summary": "Reported by the service desk; " + rng.choice(NOTES), "detected_at": declared - timedelta(hours=2),
                "reported_by": rng.choice(["SIEM rule 4711", "EDR alert", "Service desk", "A customer"]),
                "declared_at": declared, "declared_by_id": team.pk, "plan_version_id": version.pk, "type_key": key,
                "system_tier": rng.choice([1, 2, 3, 4, None]), "data_involved": made[key].data_involved,
                "facts": made[key].facts, "clocks": {}, "severity": severity, "suggested_severity": severity,
                "severity_reason": "", "status": status, "closed_at": ends if closed else None,
                "incident_commander_id": rng.choice(commanders).pk, "restricted": restricted,
                "updated_at": ends if closed else now})
            meta.append((key, declared, ends if closed else now - timedelta(minutes=5), closed, restricted))
        with transaction.atomic():
            pks = insert_rows(Incident, rows, returning=True)
            step_rows, notice_rows, entry_rows, member_rows, system_rows = [], [], [], [], []
            for pk, (key, declared, ends, closed, restricted), entries in zip(pks, meta, counts[start:start + n],
                                                                              strict=True):
                for s in steps[key]:
                    step_rows.append({**s, "incident_id": pk, "state": StepState.DONE if closed else StepState.PENDING,
                                      "done_at": ends if closed else None, "done_by_id": lead.pk if closed else None,
                                      "note": ""})
                shift = declared - made[key].declared_at
                for row in notices[key]:
                    notice_rows.append({**row, "incident_id": pk,
                                        "deadline": row["deadline"] + shift if row["deadline"] else None,
                                        "status": NotificationStatus.DONE if closed else NotificationStatus.DUE,
                                        "created_at": declared, "notified_whom": row["recipient_label"] if closed else "",
                                        "notified_at": declared + timedelta(hours=2) if closed else None,
                                        "what_was_said": "Told of the incident and what is being done." if closed else ""})
                if restricted and rng.random() < 0.5:
                    member_rows.append({"incident_id": pk, "user_id": lead.pk})
                system_rows += [{"incident_id": pk, "businesssystem_id": s} for s in rng.sample(systems, 2)]
                chain = Chain(pk)
                fill(chain, rng, entries, declared, ends, [lead, team])
                entry_rows += chain.rows
            insert_rows(ChecklistStep, step_rows)
            insert_rows(NotificationDue, notice_rows)
            insert_rows(through_members, member_rows)
            insert_rows(through_systems, system_rows)
            insert_rows(TimelineEntry, entry_rows)


def setup(now: datetime) -> Incident:
    rng = random.Random(2026)
    started = time.perf_counter()
    lead = user("bench-incidents-lead@example.com", Role.SECURITY_LEAD, person(1, "CISO"))
    team = user("bench-incidents-team@example.com", Role.SECURITY_TEAM, person(2, "Security Analyst"))
    commanders = [person(n, "Security Engineer") for n in range(3, 13)]
    version = published_plan(lead)
    systems = business_systems()
    made = templates(lead, commanders[0], systems, now)
    big = big_incident(rng, lead, team, commanders[0], systems, now)
    count = INCIDENTS - len(made) - 1
    budget = ENTRIES - TimelineEntry.objects.count()
    bulk_incidents(rng, lead, team, commanders, systems, version, made, budget, count, now)
    if connection.vendor == "postgresql":
        # What autovacuum does soon after a bulk load (as the awareness bench).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    restricted = Incident.objects.filter(restricted=True).count()
    print(f"setup: {Incident.objects.count():,} incidents ({Incident.objects.open().count():,} open, "
          f"{restricted:,} restricted), {TimelineEntry.objects.count():,} timeline entries "
          f"({TimelineEntry.objects.exclude(evidence_sha256='').count():,} with evidence), "
          f"{ChecklistStep.objects.count():,} checklist steps, {NotificationDue.objects.count():,} notifications due "
          f"in {time.perf_counter() - started:.1f} s", flush=True)
    return big


# --- measuring ---------------------------------------------------------------------------------

def check_chains(big: Incident) -> None:
    started = time.perf_counter()
    sample = [big, *Incident.objects.filter(title__startswith=TITLE).order_by("?")[:20]]
    results = [timeline.verify(i) for i in sample]
    bad = [(i.reference, r.problem) for i, r in zip(sample, results, strict=True) if not r.ok]
    print(f"chains verified: {len(sample) - len(bad)} of {len(sample)} sampled "
          f"({sum(r.checked for r in results):,} entries, {time.perf_counter() - started:.2f} s)"
          + (f"; BROKEN: {bad}" if bad else ""), flush=True)


def typical(n: int) -> list[Incident]:
    """Incidents with a median-sized timeline (a few dozen entries), of several statuses."""
    from django.db.models import Count

    found = list(Incident.objects.filter(title__startswith=f"{TITLE} ", restricted=False)
                 .annotate(n=Count("timeline")).filter(n__range=(35, 60)).order_by("pk")[:200])
    by_status: dict[str, Incident] = {}
    for incident in found:
        by_status.setdefault(incident.status, incident)
    picked = list(by_status.values())[:n]
    return picked + [i for i in found if i not in picked][:n - len(picked)]


def timed_pages(client: Client, label: str, urls: list[str], rounds: int, **kwargs) -> None:
    """latency(), then this process's CPU time per request: on a machine busy with other work,
    wall time includes waiting for a core (PostgreSQL's own work is in its server processes)."""
    cpu = time.process_time()
    latency(client, label, urls, rounds=rounds, **kwargs)
    per_request = (time.process_time() - cpu) * 1000 / (len(urls) * (rounds + 1))
    print(f"{'':<28} CPU {per_request:6.1f} ms a request on average", flush=True)


def measure(big: Incident) -> None:
    policy = MfaPolicy.current()
    policy.required_roles = []
    policy.save()
    lead = User.objects.get(email="bench-incidents-lead@example.com")
    web = Client(HTTP_HOST="127.0.0.1")
    web.force_login(lead)
    _, raw = do_create_token(user=lead, name="bench-incidents")
    api = Client(HTTP_HOST="127.0.0.1", headers={"Authorization": f"Bearer {raw}"})
    pages = Incident.objects.count() // 50
    timed_pages(web, "incident list page", [
        "/incidents/", "/incidents/?status=all", "/incidents/?status=closed", f"/incidents/?status=all&page={pages // 2}",
        f"/incidents/?status=closed&page={pages - 5}", "/incidents/?status=containment"], rounds=5)
    timed_pages(api, "incidents API list", [
        "/api/v1/incidents", "/api/v1/incidents?status=open", "/api/v1/incidents?status=closed&offset=8000",
        "/api/v1/incidents?limit=200", "/api/v1/incidents?status=triage", "/api/v1/incidents?offset=5000"], rounds=5)
    some = typical(5)
    sizes = ", ".join(str(i.timeline.count()) for i in some)
    print(f"typical incidents: {', '.join(i.reference for i in some)} ({sizes} entries)", flush=True)
    timed_pages(web, "incident page (typical)", [f"/incidents/{i.pk}/" for i in some], rounds=5)
    timed_pages(api, "incident API get (typical)", [f"/api/v1/incidents/{i.pk}" for i in some], rounds=5)
    timed_pages(api, "timeline API (typical)", [f"/api/v1/incidents/{i.pk}/timeline" for i in some], rounds=5)
    b = big.pk
    timed_pages(web, "incident page (2,000)", [
        f"/incidents/{b}/", f"/incidents/{b}/?page=20", f"/incidents/{b}/?order=oldest&page=40"], rounds=5)
    timed_pages(api, "incident API get (2,000)", [f"/api/v1/incidents/{b}"], rounds=10)
    timed_pages(api, "timeline API (2,000)", [
        f"/api/v1/incidents/{b}/timeline", f"/api/v1/incidents/{b}/timeline?offset=1900"], rounds=5)
    # The chain's verification, which the incident's page loads after itself (htmx), or the
    # whole page with it (no JavaScript); and the API's.
    htmx = Client(HTTP_HOST="127.0.0.1", headers={"HX-Request": "true"})
    htmx.force_login(lead)
    timed_pages(htmx, "verification region (2,000)", [f"/incidents/{b}/timeline/verify/"], rounds=5)
    timed_pages(web, "page + verification (2,000)", [f"/incidents/{b}/timeline/verify/"], rounds=5)
    timed_pages(api, "verify API (2,000)", [f"/api/v1/incidents/{b}/timeline/verify"], rounds=5)
    timed_pages(api, "dossier JSON API (2,000)", [f"/api/v1/incidents/{b}/dossier"], rounds=3,
                target_ms=DOSSIER_TARGET_S * 1000)
    pdf = timed("dossier PDF (2,000 entries)", DOSSIER_TARGET_S, lambda: dossier.render_dossier_pdf(big))
    print(f"  {len(pdf) // 1024:,} KiB", flush=True)
    timed("dossier PDF via the API (2,000 entries)", DOSSIER_TARGET_S,
          lambda: api.get(f"/api/v1/incidents/{b}/dossier.pdf"))


def main() -> None:
    now = timezone.now()
    print(f"append-only guard on the audit trail and timeline after migrating: "
          f"{'yes' if guard.is_installed(connection) else 'NO'}", flush=True)
    big = Incident.objects.filter(title=BIG_TITLE).first()
    if REUSE and big is not None:
        print(f"setup: reusing {Incident.objects.count():,} incidents, "
              f"{TimelineEntry.objects.count():,} timeline entries", flush=True)
    else:
        big = setup(now)
    check_chains(big)
    measure(big)


if __name__ == "__main__":
    main()
