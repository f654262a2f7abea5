from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone


@login_required
def home(request: HttpRequest) -> HttpResponse:
    from bastion.audit.access import can_view_audit
    from bastion.audit.models import AuditEntry
    from bastion.outbox.access import can_view_outbox
    from bastion.outbox.models import MessageStatus, OutboxMessage
    from bastion.people.access import can_list_people, can_view_groups, people_visible_to
    from bastion.people.models import Group, PersonStatus

    user = request.user
    stats: dict[str, int | None] = {k: None for k in ("people", "leavers", "groups", "outbox", "audit")}
    visible = people_visible_to(user)
    if can_list_people(user):
        stats["people"] = visible.filter(status=PersonStatus.ACTIVE).count()
        stats["leavers"] = visible.filter(status=PersonStatus.LEAVER).count()
    if can_view_groups(user):
        stats["groups"] = Group.objects.count()
    if can_view_outbox(user):
        stats["outbox"] = OutboxMessage.objects.exclude(status=MessageStatus.SENT).count()
    if can_view_audit(user):
        last = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
        stats["audit"] = last or 0
    from bastion.systems.access import review_invitations_to_answer

    return render(request, "home.html", {"stats": stats, "to_answer": review_invitations_to_answer(user)})


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def readyz(request: HttpRequest) -> JsonResponse:
    """Ready when the database answers and a worker has reported within the last minute."""
    from bastion.jobs.models import WorkerHeartbeat

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        recent = WorkerHeartbeat.objects.filter(seen_at__gte=timezone.now() - timedelta(minutes=1)).count()
    except Exception as exc:  # noqa: BLE001 - any database failure means not ready
        return JsonResponse({"database": f"error: {type(exc).__name__}", "workers": 0}, status=503)
    status = 200 if recent else 503
    return JsonResponse({"database": "ok", "workers": recent}, status=status)
