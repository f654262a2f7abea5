"""Account pages: your own account (second factor, API tokens) and user management."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from bastion.audit.access import can_view_audit
from bastion.lib import totp

from . import access, actions
from .auth_views import BAD_CODE, ENROL_SECRET_KEY, enrolment_secret
from .forms import CodeForm, MfaPolicyForm, PasswordForm, TokenForm, UserCreateForm, UserEditForm
from .models import MfaPolicy, Role, User


class SignedInRequest(HttpRequest):
    """The request of a @login_required view: its user is a real account."""

    user: User


def _account_page(request: SignedInRequest, *, token_form=None, new_token: str | None = None,
                  status: int = 200) -> HttpResponse:
    user = request.user
    return render(request, "accounts/account.html", {
        "tokens": user.api_tokens.all(),
        "token_form": token_form or TokenForm(),
        "mfa_required": MfaPolicy.current().requires(user),
        "new_token": new_token,
    }, status=status)


@never_cache
@login_required
def account(request: SignedInRequest) -> HttpResponse:
    return _account_page(request)


@never_cache
@login_required
def account_mfa(request: SignedInRequest) -> HttpResponse:
    """Enrol a second factor from within a session (required roles are sent here until they do)."""
    user = request.user
    if user.mfa_enabled:
        return redirect("/account/")
    secret = enrolment_secret(request, user)
    form = CodeForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        step = totp.matching_step(secret, form.cleaned_data["code"])
        if step is None:
            error = BAD_CODE
        else:
            actions.do_enable_mfa(user=user, secret=secret, step=step, request=request)
            request.session.pop(ENROL_SECRET_KEY, None)
            messages.success(request, "Your second factor is on. You will be asked for a code at each sign-in.")
            return redirect("/account/")
    uri = totp.provisioning_uri(secret, user.email)
    return render(request, "accounts/account_mfa.html", {
        "form": form, "error": error, "secret": secret, "qr_svg": totp.qr_svg(uri),
        "mfa_required": MfaPolicy.current().requires(user),
    }, status=400 if (error or form.errors) else 200)


@never_cache
@login_required
@require_POST
def token_create(request: SignedInRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _account_page(request, token_form=form, status=400)
    _, raw = actions.do_create_token(user=request.user, name=form.cleaned_data["name"], request=request)
    # The raw token goes out in this response only: it is never stored (not even in the
    # session), so reloading /account/ cannot show it again.
    return _account_page(request, new_token=raw)


@login_required
@require_POST
def token_revoke(request: SignedInRequest, pk: int) -> HttpResponse:
    token = access.get_own_token(request.user, pk)
    actions.do_revoke_token(acting_user=request.user, token=token, request=request)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("/account/")


@login_required
def user_list(request: HttpRequest) -> HttpResponse:
    users = access.users_visible_to(request.user)
    q = request.GET.get("q", "").strip()[:100]
    role = request.GET.get("role", "")
    if q:
        users = users.filter(Q(email__icontains=q) | Q(full_name__icontains=q))
    if role in Role.values:
        users = users.filter(role=role)
    page = Paginator(users.order_by("email"), 50).get_page(request.GET.get("page"))
    return render(request, "accounts/user_list.html", {
        "page_obj": page, "q": q, "role": role, "roles": Role.choices,
        "can_manage": access.can_manage_users(request.user),
        "policy": MfaPolicy.current(),
    })


@login_required
def user_create(request: HttpRequest) -> HttpResponse:
    if not access.can_manage_users(request.user):
        raise PermissionDenied
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        from bastion.people.models import Person

        data = form.cleaned_data
        person = Person.objects.filter(email__iexact=data["email"]).first()
        user = actions.do_create_user(
            acting_user=request.user, email=data["email"], full_name=data["full_name"] or (str(person) if person else ""),
            role=data["role"], password=data["password"] or None, person=person, request=request,
        )
        messages.success(request, f"User {user.email} created.")
        return redirect(f"/accounts/users/{user.pk}/")
    return render(request, "accounts/user_form.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    target = access.get_user_for_view(request.user, pk)
    can_manage = access.can_manage_users(request.user)
    form = UserEditForm(initial={"full_name": target.full_name, "role": target.role, "is_active": target.is_active})
    if request.method == "POST":
        target = access.get_user_for_change(request.user, pk)
        form = UserEditForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            if target.pk == request.user.pk and (data["role"] != target.role or not data["is_active"]):
                form.add_error(None, "You cannot change your own role or deactivate yourself; ask another security lead.")
            else:
                actions.do_update_user(acting_user=request.user, user=target, request=request, **data)
                messages.success(request, "Saved.")
                return redirect(f"/accounts/users/{target.pk}/")
    return render(request, "accounts/user_detail.html", {
        "target": target, "form": form, "can_manage": can_manage,
        "password_form": PasswordForm(user=target),
        "mfa_required": MfaPolicy.current().requires(target),
        "tokens": target.api_tokens.all(),
        "can_view_audit": can_view_audit(request.user),
    }, status=400 if form.errors else 200)


@login_required
@require_POST
def user_reset_mfa(request: HttpRequest, pk: int) -> HttpResponse:
    target = access.get_user_for_change(request.user, pk)
    actions.do_reset_mfa(acting_user=request.user, user=target, request=request)
    messages.success(request, f"Second factor removed for {target.email}. They will enrol again at next sign-in.")
    return redirect(f"/accounts/users/{target.pk}/")


@login_required
@require_POST
def user_set_password(request: HttpRequest, pk: int) -> HttpResponse:
    target = access.get_user_for_change(request.user, pk)
    form = PasswordForm(request.POST, user=target)
    if form.is_valid():
        actions.do_set_password(acting_user=request.user, user=target, password=form.cleaned_data["password"], request=request)
        messages.success(request, "Password set.")
    else:
        messages.error(request, " ".join(str(e) for e in form.errors.get("password", ["Invalid password."])))
    return redirect(f"/accounts/users/{target.pk}/")


@login_required
def mfa_policy(request: HttpRequest) -> HttpResponse:
    if not access.can_manage_users(request.user):
        raise PermissionDenied
    policy = MfaPolicy.current()
    form = MfaPolicyForm(request.POST or None, initial={"required_roles": policy.required_roles})
    if request.method == "POST" and form.is_valid():
        actions.do_set_mfa_policy(acting_user=request.user, required_roles=form.cleaned_data["required_roles"], request=request)
        messages.success(request, "MFA policy saved. People in these roles must use a second factor from their next page view.")
        return redirect("/accounts/users/")
    return render(request, "accounts/mfa_policy.html", {"form": form})
