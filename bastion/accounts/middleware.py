import zoneinfo

from django.shortcuts import redirect
from django.utils import timezone

from .models import MfaPolicy

_MFA_EXEMPT_PREFIXES = ("/login/", "/logout/", "/static/", "/healthz", "/readyz", "/api/")


class MfaRequiredMiddleware:
    """A signed-in person whose role now requires MFA but who has none must enrol first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and not user.mfa_enabled
            and not request.path.startswith(_MFA_EXEMPT_PREFIXES)
            and request.path != "/account/mfa/"
            and MfaPolicy.current().requires(user)
        ):
            return redirect("/account/mfa/")
        return self.get_response(request)


class UserTimezoneMiddleware:
    """Show times in the viewer's own zone; storage stays UTC."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and user.time_zone and user.time_zone != "UTC":
            try:
                timezone.activate(zoneinfo.ZoneInfo(user.time_zone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        return self.get_response(request)
