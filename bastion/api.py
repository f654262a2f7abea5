"""The JSON API under /api/v1/: personal Bearer tokens, the same access helpers as the pages."""

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer

from bastion.accounts.models import ApiToken, hash_token


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        if not token.startswith(ApiToken.PREFIX) or len(token) > 100:
            return None
        found = ApiToken.objects.active().select_related("user").filter(token_hash=hash_token(token)).first()
        if found is None:
            return None
        now = timezone.now()
        # Record use at most once a minute: a busy script must not turn every read into a write.
        if found.last_used_at is None or (now - found.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
        request.user = found.user
        request.api_token = found  # type: ignore[attr-defined]
        return found.user


api = NinjaAPI(
    title="Bastion API",
    version="1",
    description="Authenticate with `Authorization: Bearer <token>`; create a token on your account page or with `bastion token create`.",
    auth=TokenAuth(),
    urls_namespace="api-v1",
    # The interactive docs page loads Swagger UI from a CDN: nothing may fetch at run time.
    docs_url=None,
)


@api.exception_handler(PermissionDenied)
def _forbidden(request, exc):
    return api.create_response(request, {"detail": "You do not have access to this."}, status=403)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return api.create_response(request, {"detail": "Not found."}, status=404)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return api.create_response(request, {"detail": "A valid API token is required (Authorization: Bearer <token>)."}, status=401)


def _mount() -> None:
    from bastion.accounts.api import router as accounts_router
    from bastion.audit.api import router as audit_router
    from bastion.awareness.course_api import courses_router, policies_router
    from bastion.awareness.programme_api import assignments_router, programmes_router
    from bastion.awareness.progress_api import router as progress_router
    from bastion.incidents.api import router as incidents_router
    from bastion.people.api import groups_router, people_router
    from bastion.phishing.api import campaigns_router, phishing_router
    from bastion.phishing.reports_api import mailboxes_router, reports_router
    from bastion.response.api import router as plans_router
    from bastion.systems.api import router as systems_router
    from bastion.systems.review_api import router as reviews_router

    api.add_router("/people", people_router, tags=["people"])
    api.add_router("/groups", groups_router, tags=["groups"])
    api.add_router("/systems", systems_router, tags=["systems"])
    api.add_router("/reviews", reviews_router, tags=["reviews"])
    api.add_router("/courses", courses_router, tags=["awareness"])
    api.add_router("/policies", policies_router, tags=["awareness"])
    api.add_router("/programmes", programmes_router, tags=["awareness"])
    api.add_router("/assignments", assignments_router, tags=["awareness"])
    api.add_router("/progress", progress_router, tags=["awareness"])
    api.add_router("/plans", plans_router, tags=["plan"])
    api.add_router("/incidents", incidents_router, tags=["incidents"])
    api.add_router("/campaigns", campaigns_router, tags=["phishing"])
    api.add_router("/phishing", phishing_router, tags=["phishing"])
    api.add_router("/phishing/reports", reports_router, tags=["phishing"])
    api.add_router("/phishing/mailboxes", mailboxes_router, tags=["phishing"])
    api.add_router("/audit", audit_router, tags=["audit"])
    api.add_router("/me", accounts_router, tags=["account"])


_mount()
