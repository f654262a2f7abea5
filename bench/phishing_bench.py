"""Phishing at 100,000 people: a campaign to everyone (BENCH_RECIPIENTS, default all of them)
sent by one worker to an SMTP sink in another process (messages a second, and the sink's count
of messages and distinct recipients: no one twice); tracking hits' server time through the test
client (open pixel, click: mean / p95); tracking hits through a production server (`bastion
serve`: gunicorn, 2 processes × 4 threads) from a concurrent client (hits a second, and every
hit's event found in the database afterwards: none lost); the campaign results API, its group
breakdowns and the campaign's results page p95, over a realistic spread of events.

BENCH_PEOPLE sizes the directory (built here unless the people bench already did),
BENCH_RECIPIENTS the campaign, BENCH_HITS the in-process hits, BENCH_SERVED_HITS the hits
through the server. Figures are printed, never asserted."""

import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bastion.settings")

import django  # noqa: E402

django.setup()

from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from latency import latency  # noqa: E402

from bastion.accounts.actions import do_create_token  # noqa: E402
from bastion.accounts.models import MfaPolicy, Role, User  # noqa: E402
from bastion.demo.people import DOMAIN, build_people, save_people  # noqa: E402
from bastion.people.models import Group, Person, PersonStatus  # noqa: E402
from bastion.phishing import sending, tracking  # noqa: E402
from bastion.phishing.actions import do_create_campaign, do_declare_domain  # noqa: E402
from bastion.phishing.models import (  # noqa: E402
    Campaign,
    LandingPage,
    PhishingTemplate,
    Recipient,
    SendingProfile,
    TrackingEvent,
)

SIZE = int(os.environ.get("BENCH_PEOPLE", "100000"))
RECIPIENTS = int(os.environ.get("BENCH_RECIPIENTS", str(SIZE)))
HITS = int(os.environ.get("BENCH_HITS", "500"))
SERVED_HITS = int(os.environ.get("BENCH_SERVED_HITS", "10000"))
SEND_TARGET = 200
HIT_TARGET_MS = 5
SERVED_TARGET = 1000  # hits a second
CONNECTIONS = 16  # the concurrent client's keep-alive connections
BROWSER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

# The sink: accepts every message and throws it away, counting them and the distinct
# recipients; its own process so that the worker measured is not sharing its interpreter with
# the server. It advertises PIPELINING (RFC 2920), as Postfix and Exim do: aiosmtpd reads
# commands in order, so it handles pipelined ones.
SINK = textwrap.dedent("""
    import sys, time
    from aiosmtpd.controller import Controller

    class Handler:
        count = 0
        seen = set()
        async def handle_EHLO(self, server, session, envelope, hostname, responses):
            session.host_name = hostname
            responses.insert(-1, "250-PIPELINING")
            return responses
        async def handle_DATA(self, server, session, envelope):
            Handler.count += 1
            Handler.seen.update(envelope.rcpt_tos)
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[1]))
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()  # until the bench closes our stdin
    controller.stop()
    print(Handler.count, len(Handler.seen), time.process_time(), flush=True)
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_people() -> None:
    if Person.objects.count() >= SIZE:
        return
    started = time.perf_counter()
    save_people(build_people(SIZE))
    print(f"built {SIZE:,} people in {time.perf_counter() - started:.1f} s", flush=True)


def campaign(port: int) -> Campaign:
    do_declare_domain(DOMAIN, None)
    profile = SendingProfile.objects.create(name=f"Bench sink {port}", smtp_url=f"smtp://127.0.0.1:{port}",
                                            from_address=f"it-support@{DOMAIN}", rate_per_second=10_000)
    templates = [
        PhishingTemplate.objects.create(
            name=f"Bench {port} {n}", from_name="IT Support", subject="{{first_name}}, action needed",
            body_text="Hello {{first_name}} ({{department}}),\nYour manager {{manager}} asked: {{link}}\n"
                      "Suspicious? {{report_link}}\n" + "Policy text. " * 80,
            body_html="<p>Hello {{first_name}} of {{department}}</p><p>{{manager}} asked you to "
                      "<a href=\"{{link}}\">review this</a>.</p>" + "<p>Policy text.</p>" * 40
                      + "<a href=\"{{report_link}}\">Report</a>{{pixel}}",
            difficulty=3)
        for n in range(2)]
    page = LandingPage.objects.create(title="Bench landing", body_markdown="That was a **simulation**.",
                                      shows_form=True)
    group = Group.objects.create(name=f"Bench phishing sample {port}")
    sample = list(Person.objects.filter(status=PersonStatus.ACTIVE).order_by("?").values_list("pk", flat=True)
                  [:RECIPIENTS])
    group.members.through.objects.bulk_create(
        [group.members.through(group_id=group.pk, person_id=pk) for pk in sample], batch_size=5000)
    return do_create_campaign(name="Bench campaign", templates=templates, landing_page=page,
                              sending_profile=profile, audience=group,
                              starts_at=timezone.now() - timedelta(minutes=1), window_minutes=0)


def send(the_campaign: Campaign) -> None:
    total = the_campaign.recipients.count()
    started, cpu = time.perf_counter(), time.process_time()
    sent = 0
    while True:
        result = sending.send_due(budget_seconds=600)
        sent += result.sent
        if result.errors:
            print("errors:", result.errors)
            break
        if the_campaign.pk in result.finished or not result.sent:
            break
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    rate = sent / elapsed if elapsed else 0
    verdict = "OK" if rate >= SEND_TARGET else "SLOW"
    print(f"send {total:,} messages, one worker       {elapsed:6.1f} s  {rate:7.0f} msg/s "
          f"(target ≥ {SEND_TARGET}) {verdict}; the worker's CPU {cpu / max(sent, 1) * 1000:.2f} ms a message, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)


def hits(the_campaign: Campaign) -> None:
    tokens = list(Recipient.objects.filter(campaign=the_campaign).order_by("?").values_list("token", flat=True)
                  [:HITS])
    browser = Client(HTTP_HOST="127.0.0.1", headers={
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"})
    browser.get(f"/p/o/{tokens[0]}.gif")  # warm up
    for label, path in (("open (pixel)", "/p/o/{}.gif"), ("click (redirect)", "/p/c/{}/")):
        samples = []
        for token in tokens:
            started = time.perf_counter()
            response = browser.get(path.format(token))
            samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code in (200, 302), response.status_code
        samples.sort()
        mean = statistics.fmean(samples)
        p95 = samples[max(0, int(len(samples) * 0.95) - 1)]
        verdict = "OK" if p95 < HIT_TARGET_MS else "SLOW"
        print(f"tracking hit, {label:<18} mean {mean:5.2f} ms  p95 {p95:5.2f} ms  (n={len(samples)}) "
              f"target < {HIT_TARGET_MS} ms {verdict}", flush=True)


def results_api(the_campaign: Campaign) -> None:
    policy = MfaPolicy.current()
    policy.required_roles = []
    policy.save()
    lead, _ = User.objects.get_or_create(email="bench-phishing-lead@example.com",
                                         defaults={"role": Role.SECURITY_LEAD})
    _, raw = do_create_token(user=lead, name="bench phishing")
    api = Client(HTTP_HOST="127.0.0.1", headers={"Authorization": f"Bearer {raw}"})
    base = f"/api/v1/campaigns/{the_campaign.pk}/results"
    api.get(base)  # the process's first API request: imports, URL resolvers, schemas
    for url in (base, f"{base}?by=department", f"{base}?by=manager"):  # computed, as after any new hit:
        # the cache emptied first
        cache.clear()
        started = time.perf_counter()
        assert api.get(url).status_code == 200
        print(f"{url.rsplit('/', 1)[1]:<28} computed {(time.perf_counter() - started) * 1000:6.1f} ms "
              "(then cached until the next hit or change)", flush=True)
    latency(api, f"campaign results API ({RECIPIENTS // 1000}k)", [base])
    latency(api, "results by department / manager", [f"{base}?by=department", f"{base}?by=manager",
                                                      f"{base}?by=manager&offset=500"])
    person = Recipient.objects.filter(campaign=the_campaign).order_by("pk").values_list("person", flat=True)[0]
    latency(api, "repeat clickers, a history", ["/api/v1/phishing/repeat-clickers",
                                                 f"/api/v1/phishing/people/{person}/history"])


async def _hammer(port: int, paths: list[str]) -> tuple[int, dict[int, int]]:
    """Send every path as a GET over CONNECTIONS keep-alive connections; (answered, statuses)."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for path in paths:
        queue.put_nowait(path)
    statuses: dict[int, int] = {}

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while not queue.empty():
                path = queue.get_nowait()
                writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {BROWSER_AGENT}\r\n"
                             f"X-Forwarded-For: 203.0.113.{random.randrange(1, 255)}\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    return sum(statuses.values()), statuses


def _tree_cpu(root: int) -> float:
    """CPU seconds used so far by a process and its descendants (Linux /proc)."""
    parent, cpu = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = int(fields[11]) + int(fields[12])  # utime + stime

    def inside(pid: int) -> bool:
        while pid > 1:
            if pid == root:
                return True
            pid = parent.get(pid, 0)
        return False

    return sum(ticks for pid, ticks in cpu.items() if inside(pid)) / os.sysconf("SC_CLK_TCK")


def served_hits(the_campaign: Campaign) -> None:
    """Hits through `bastion serve` (gunicorn) from a concurrent client; then every answered hit
    must be an event in the database."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "bastion", "serve", "--port", str(port), "--workers", "2",
                               "--threads", "4"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("bastion serve did not start") from None
                time.sleep(0.2)
        tokens = list(Recipient.objects.filter(campaign=the_campaign).order_by("?")
                      .values_list("token", flat=True)[:max(1, SERVED_HITS // 2)])
        paths = [p for t in tokens for p in (f"/p/o/{t}.gif", f"/p/c/{t}/")][:SERVED_HITS]
        asyncio.run(_hammer(port, paths[:CONNECTIONS * 4]))  # warm up every process and thread
        before = TrackingEvent.objects.filter(recipient__campaign=the_campaign).count()
        started, cpu = time.perf_counter(), _tree_cpu(server.pid)
        answered, statuses = asyncio.run(_hammer(port, paths))
        elapsed, cpu = time.perf_counter() - started, _tree_cpu(server.pid) - cpu
        recorded = TrackingEvent.objects.filter(recipient__campaign=the_campaign).count() - before
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)
    ok = statuses.get(200, 0) + statuses.get(302, 0)
    rate = answered / elapsed if elapsed else 0
    verdict = "OK" if rate >= SERVED_TARGET and recorded == ok == len(paths) else "SLOW" if recorded == ok else "LOST"
    print(f"tracking hits through bastion serve  {elapsed:6.1f} s  {rate:7.0f} hits/s ({CONNECTIONS} connections, "
          f"statuses {statuses}); events recorded {recorded:,} of {ok:,} answered (lost {ok - recorded}) "
          f"target ≥ {SERVED_TARGET}/s, none lost {verdict}; the server's CPU {cpu / max(answered, 1) * 1000:.2f} ms "
          f"a hit, load average {os.getloadavg()[0]:.1f}", flush=True)


def realistic_events(the_campaign: Campaign) -> None:
    """A spread of events like a real campaign's: about 45% opened, 15% clicked, 4% submitted,
    20% reported, and scanners' hits on 10% (flagged), written in bulk."""
    rng = random.Random(5)
    now = timezone.now()
    ids = list(Recipient.objects.filter(campaign=the_campaign, status="sent").values_list("pk", flat=True))
    events = []
    for pk in ids:
        roll = rng.random()
        if roll < 0.10:
            events.append(TrackingEvent(recipient_id=pk, kind="clicked", at=now, automated=True, rule="too-soon"))
        if roll < 0.45:
            events.append(TrackingEvent(recipient_id=pk, kind="opened", at=now))
        if roll < 0.15:
            events.append(TrackingEvent(recipient_id=pk, kind="clicked", at=now))
        if roll < 0.04:
            events.append(TrackingEvent(recipient_id=pk, kind="submitted", at=now))
        if 0.25 < roll < 0.45:
            events.append(TrackingEvent(recipient_id=pk, kind="reported", at=now + timedelta(minutes=rng.randrange(600))))
    TrackingEvent.objects.bulk_create(events, batch_size=5000)
    tracking.refresh_summaries(the_campaign.recipients.all())  # written in bulk: the summaries after
    # As autovacuum would after the send's and these writes: the tables' statistics, no dead rows.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    print(f"added {len(events):,} events over {len(ids):,} recipients", flush=True)


def results_page(the_campaign: Campaign) -> None:
    from bastion.phishing import pages  # noqa: F401 - the management pages, when they exist

    lead = User.objects.get(email="bench-phishing-lead@example.com")
    browser = Client(HTTP_HOST="127.0.0.1")
    browser.force_login(lead)
    url = f"/phishing/campaigns/{the_campaign.pk}/"
    browser.get(url)  # the process's first page: templates
    samples = []
    for _ in range(5):  # computed, as after any new hit: the cache emptied first
        cache.clear()
        started = time.perf_counter()
        assert browser.get(url).status_code == 200
        samples.append((time.perf_counter() - started) * 1000)
    print(f"campaign page ({RECIPIENTS // 1000}k), computed  max {max(samples):6.1f} ms of {len(samples)} "
          f"(the first view after a hit; target < 150 ms {'OK' if max(samples) < 150 else 'SLOW'})", flush=True)
    # The regions the page loads after itself (htmx), each computed as after a hit.
    for region in ("departments", "managers", "flagged"):
        samples = []
        for _ in range(5):
            cache.clear()
            started = time.perf_counter()
            assert browser.get(f"{url}?region={region}", headers={"HX-Request": "true"}).status_code == 200
            samples.append((time.perf_counter() - started) * 1000)
        print(f"  its {region:<11} region, computed  max {max(samples):6.1f} ms of {len(samples)} "
              f"(target < 150 ms {'OK' if max(samples) < 150 else 'SLOW'})", flush=True)
    latency(browser, f"campaign results page ({RECIPIENTS // 1000}k)", [url])


def main() -> None:
    ensure_people()
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(port)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None and sink.stdout.readline().strip() == "ready"
        the_campaign = campaign(port)
        send(the_campaign)
    finally:
        out, _ = sink.communicate("", timeout=60)
    count, distinct, sink_cpu = (float(n) for n in out.split())
    sent = Recipient.objects.filter(campaign=the_campaign, status="sent").count()
    print(f"the sink received {count:,.0f} messages for {distinct:,.0f} recipients; {sent:,} recorded sent "
          f"({'no one twice' if count == distinct == sent else 'MISMATCH'}); the sink's CPU "
          f"{sink_cpu / max(count, 1) * 1000:.2f} ms a message", flush=True)
    hits(the_campaign)
    served_hits(the_campaign)
    realistic_events(the_campaign)
    results_api(the_campaign)
    try:
        results_page(the_campaign)
    except ImportError:
        print("campaign results page: not built yet", flush=True)


if __name__ == "__main__":
    main()
