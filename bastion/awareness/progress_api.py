"""Training progress over JSON: the same figures as the progress page, for reports and scripts.
Managers get their own people's figures; roles that may not follow progress get 403."""

from typing import Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from bastion.lib.http import MAX_ID

from . import access, progress

router = Router()


class FiguresOut(Schema):
    key: str | int | None = Field(description="The programme, course or manager id, or the department name")
    label: str
    assigned: int
    completed: int
    completion: float | None = Field(description="Percent of assigned completed")
    on_time: int
    on_time_rate: float | None = Field(description="Percent of completions made by the due date")
    overdue: int
    in_progress: int
    failed: int
    not_started: int
    average_score: float | None


class ProgressOut(Schema):
    by: str
    total: FiguresOut
    items: list[FiguresOut]
    count: int


class ProgressParams(Schema):
    by: Literal["programme", "course", "department", "manager"] = "department"
    programme: int | None = Field(None, ge=1, le=MAX_ID, description="Only this programme's assignments")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=10_000_000)


def _out(f: progress.Figures) -> dict:
    return {"key": f.key if isinstance(f.key, (int, str)) or f.key is None else str(f.key), "label": f.label,
            "assigned": f.assigned, "completed": f.completed, "completion": f.completion, "on_time": f.on_time,
            "on_time_rate": f.on_time_rate, "overdue": f.overdue, "in_progress": f.in_progress,
            "failed": f.failed, "not_started": f.not_started, "average_score": f.average_score}


@router.get("", response=ProgressOut, summary="Training progress, grouped")
def progress_figures(request: HttpRequest, params: Query[ProgressParams]):
    """Each person's current assignment per programme (people still here, cancelled ones left
    out): completion, on-time rate, overdue and average score, most overdue group first."""
    assignments = access.assignments_visible_to(request.user)
    if params.programme is not None:
        assignments = assignments.filter(programme_id=params.programme)
    rows, total = progress.figures(assignments, params.by)
    return {"by": params.by, "total": _out(total), "count": len(rows),
            "items": [_out(r) for r in rows[params.offset:params.offset + params.limit]]}
