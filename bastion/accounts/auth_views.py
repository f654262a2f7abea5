"""Sign-in with password and TOTP second factor, throttled and audited.

Password → (second factor on, or required for the role by the MFA policy) code or enrolment →
session. The session key is rotated after the password and again at login().
"""

import time

from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from bastion.audit.chain import client_ip, record
from bastion.lib import totp

from . import actions, throttle
from .forms import CodeForm, LoginForm
from .models import MfaPolicy, User

PENDING_KEY = "pending_mfa_user"
PENDING_MAX_AGE = 300  # seconds between password and code
ENROL_SECRET_KEY = "mfa_enrol_secret"  # noqa: S105 - the name of a session key
NEXT_KEY = "login_next"
BAD_CODE = "That code is not valid. Check your device's clock and try the current code."


def _next_url(request: HttpRequest) -> str:
    nxt = request.POST.get("next") or request.GET.get("next") or "/"
    if url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return nxt
    return "/"


def enrolment_secret(request: HttpRequest, user: User) -> str:
    """The secret offered while `user` enrols, kept in the session until they prove it.

    Bound to the user so a secret shown to one person is never offered to another
    who signs in later in the same browser.
    """
    kept = request.session.get(ENROL_SECRET_KEY)
    if isinstance(kept, list) and len(kept) == 2 and kept[0] == user.pk:
        return kept[1]
    secret = totp.new_secret()
    request.session[ENROL_SECRET_KEY] = [user.pk, secret]
    return secret


def _finish_login(request: HttpRequest, user: User) -> HttpResponse:
    nxt = request.session.pop(NEXT_KEY, "/")
    with transaction.atomic():
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        throttle.note_attempt(user.email, client_ip(request), True)
        record("login.succeeded", actor=user, obj=user, request=request)
    return redirect(nxt)


@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("/")
    form = LoginForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].lower()
        ip = client_ip(request)
        error = throttle.blocked_message(email, ip)
        if error is None:
            user = authenticate(request, username=email, password=form.cleaned_data["password"])
            if user is None:
                with transaction.atomic():
                    throttle.note_attempt(email, ip, False)
                    record("login.failed", actor_label=email, object_type="accounts.user",
                           object_repr=email, request=request)
                error = throttle.blocked_message(email, ip) or "That email and password do not match an active account."
            else:
                # A new session key once the password is right; login() rotates it again.
                request.session.cycle_key()
                request.session.pop(PENDING_KEY, None)
                request.session[NEXT_KEY] = _next_url(request)
                if user.mfa_enabled or MfaPolicy.current().requires(user):
                    request.session[PENDING_KEY] = [user.pk, time.time()]
                    return redirect("/login/mfa/")
                return _finish_login(request, user)
    failed = error is not None or bool(form.errors)
    return render(request, "accounts/login.html", {"form": form, "error": error, "next": _next_url(request)},
                  status=400 if failed else 200)


def _pending_user(request: HttpRequest) -> User | None:
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, list) or len(pending) != 2 or time.time() - pending[1] > PENDING_MAX_AGE:
        return None
    return User.objects.filter(pk=pending[0], is_active=True).first()


@never_cache
def login_mfa_view(request: HttpRequest) -> HttpResponse:
    """Second step of sign-in: a TOTP code, or enrolment if the role requires MFA and none is set."""
    user = _pending_user(request)
    if user is None:
        request.session.pop(PENDING_KEY, None)
        messages.info(request, "Please sign in again.")
        return redirect("/login/")
    ip = client_ip(request)
    form = CodeForm(request.POST or None)
    error = None
    enrolling = not user.mfa_enabled
    secret = enrolment_secret(request, user) if enrolling else user.mfa_secret
    if request.method == "POST" and form.is_valid():
        error = throttle.blocked_message(user.email, ip)
        if error is None:
            step = totp.matching_step(secret, form.cleaned_data["code"], user.mfa_last_step)
            # Claim the step atomically: of two requests racing with one code, only one wins.
            if step is not None and not enrolling:
                claimed = User.objects.filter(pk=user.pk, mfa_last_step__lt=step).update(mfa_last_step=step)
                step = step if claimed else None
            if step is None:
                with transaction.atomic():
                    throttle.note_attempt(user.email, ip, False)
                    record("login.mfa_failed", actor_label=user.email, obj=user, request=request)
                error = throttle.blocked_message(user.email, ip) or BAD_CODE
            else:
                del request.session[PENDING_KEY]
                if enrolling:
                    actions.do_enable_mfa(user=user, secret=secret, step=step, request=request)
                    request.session.pop(ENROL_SECRET_KEY, None)
                return _finish_login(request, user)
    ctx = {"form": form, "error": error, "enrolling": enrolling, "pending_user": user}
    if enrolling:
        uri = totp.provisioning_uri(secret, user.email)
        ctx.update(secret=secret, qr_svg=totp.qr_svg(uri))
    failed = error is not None or bool(form.errors)
    return render(request, "accounts/login_mfa.html", ctx, status=400 if failed else 200)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        record("logout", actor=request.user, obj=request.user, request=request)
    logout(request)
    return redirect("/login/")
