"""Phishing at 100,000 people: a campaign to a sample (default 20,000) sent by one worker to an
SMTP sink in another process (messages a second), tracking hits through the test client (open
pixel, click: mean / p95 server time) and the campaign results API p95.

BENCH_PEOPLE sizes the directory (built here unless the people bench already did),
BENCH_RECIPIENTS the campaign. Figures are printed, never asserted."""

import os
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

from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from latency import latency  # noqa: E402

from bastion.accounts.actions import do_create_token  # noqa: E402
from bastion.accounts.models import MfaPolicy, Role, User  # noqa: E402
from bastion.demo.people import DOMAIN, build_people, save_people  # noqa: E402
from bastion.people.models import Group, Person, PersonStatus  # noqa: E402
from bastion.phishing import sending  # noqa: E402
from bastion.phishing.actions import do_create_campaign, do_declare_domain  # noqa: E402
from bastion.phishing.models import (  # noqa: E402
    Campaign,
    LandingPage,
    PhishingTemplate,
    Recipient,
    SendingProfile,
)

SIZE = int(os.environ.get("BENCH_PEOPLE", "100000"))
RECIPIENTS = int(os.environ.get("BENCH_RECIPIENTS", str(min(20_000, SIZE))))
HITS = int(os.environ.get("BENCH_HITS", "500"))
SEND_TARGET = 200
HIT_TARGET_MS = 5

# The sink: accepts every message and throws it away, counting them; its own process so that
# the worker measured is not sharing its interpreter with the server.
SINK = textwrap.dedent("""
    import sys, time
    from aiosmtpd.controller import Controller

    class Handler:
        count = 0
        async def handle_DATA(self, server, session, envelope):
            Handler.count += 1
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[1]))
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()  # until the bench closes our stdin
    controller.stop()
    print(Handler.count, flush=True)
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
    started = time.perf_counter()
    sent = 0
    while True:
        result = sending.send_due(budget_seconds=600)
        sent += result.sent
        if result.errors:
            print("errors:", result.errors)
            break
        if the_campaign.pk in result.finished or not result.sent:
            break
    elapsed = time.perf_counter() - started
    rate = sent / elapsed if elapsed else 0
    verdict = "OK" if rate >= SEND_TARGET else "SLOW"
    print(f"send {total:,} messages, one worker       {elapsed:6.1f} s  {rate:7.0f} msg/s "
          f"(target ≥ {SEND_TARGET}) {verdict}", flush=True)


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
    latency(api, f"campaign results API ({RECIPIENTS // 1000}k)", [base])
    latency(api, "results by department / manager", [f"{base}?by=department", f"{base}?by=manager",
                                                      f"{base}?by=manager&offset=500"])
    person = Recipient.objects.filter(campaign=the_campaign).order_by("pk").values_list("person", flat=True)[0]
    latency(api, "repeat clickers, a history", ["/api/v1/phishing/repeat-clickers",
                                                 f"/api/v1/phishing/people/{person}/history"])


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
    print(f"the sink received {out.strip()} messages", flush=True)
    hits(the_campaign)
    results_api(the_campaign)


if __name__ == "__main__":
    main()
