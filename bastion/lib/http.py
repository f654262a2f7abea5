"""Request types for views that require a signed-in user (login_required or API token)."""

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from bastion.accounts.models import User


class AuthedRequest(HttpRequest):
    user: User  # type: ignore[assignment]


class RejectNulMiddleware:
    """A NUL character in a query parameter is never meaningful and PostgreSQL cannot store or
    compare it: answer 400 once, here, rather than a 500 from whichever filter meets it first.
    (Form fields already refuse NUL in posted data.)"""

    MESSAGE = "A query parameter contains a NUL character, which is not allowed."

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists()
        ):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": self.MESSAGE}, status=400)
            return HttpResponseBadRequest(self.MESSAGE, content_type="text/plain")
        return self.get_response(request)


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def render_region(request: HttpRequest, template: str, region: str, context: dict) -> HttpResponse:
    """The whole page, or only its `{% partialdef region %}` when htmx asks for the region."""
    name = f"{template}#{region}" if is_htmx(request) else template
    response = render(request, name, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# The largest id a database integer column holds (PostgreSQL bigint, SQLite integer).
MAX_ID = 2**63 - 1


def parse_id(value: object) -> int | None:
    """A database id typed in a query string or form ("12"), or None for anything else: not
    digits ("²" is a digit to Python but not a number), negative, or too large to be an id."""
    text = str(value or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    number = int(text)
    return number if number <= MAX_ID else None


def form_refusal(form, rename: dict[str, str] | None = None):
    """A form's errors as the 422 ninja answers for a body that does not validate: each error
    located at its field (``rename`` maps a form field to its API name), the form-wide ones at
    the body itself. The API validates with the same form as the page."""
    from ninja.errors import ValidationError

    rename = rename or {}
    errors: list[dict] = []
    for name, messages in form.errors.items():
        loc = ["body", "payload"] if name == "__all__" else ["body", "payload", rename.get(name, name)]
        errors.extend({"type": "value_error", "loc": loc, "msg": msg} for msg in messages)
    return ValidationError(errors)
