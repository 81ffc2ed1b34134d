"""Who is signed in to the staff app, for which organization, in which role.

Signing in takes two steps for anyone with a confirmed TOTP device, and for every owner
and manager (``roles.TWO_FACTOR_REQUIRED``), who must set one up first: the password makes
the session *pending* (no Django login yet, so the password alone opens nothing, not even
the admin); the code completes it (``django.contrib.auth.login`` and ``django_otp.login``).
A user who reached a session some other way (the admin's own sign-in) is still asked for
the code before any staff page.

Then the user picks one of their organizations (kept in the session). ``staff_view`` wraps
every staff page: it checks all of the above and the permission table, and hands the view
``request.staff``, with the organization's time zone active for the page.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import auth
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from dues.core.clock import Clock
from dues.core.models import Organization
from dues.core.selectors import organization_zone
from dues.staff.models import StaffRole
from dues.staff.roles import TWO_FACTOR_REQUIRED, Role, actions_for, may

ORG_KEY = "dues_staff_org"
PENDING_KEY = "dues_staff_pending"
# How long a correct password waits for its code.
PENDING_FOR = timedelta(minutes=10)


@dataclass(frozen=True)
class Staff:
    """The signed-in staff member in the organization they picked."""

    user: Any
    organization: Organization
    role: str

    @property
    def role_label(self) -> str:
        return str(Role(self.role).label)

    @property
    def can(self) -> frozenset[str]:
        return actions_for(self.role)

    def may(self, action: str) -> bool:
        return may(self.role, action)


def confirmed_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def needs_two_factor(user: Any) -> bool:
    """Owners and managers (in any organization) must; anyone with a device is asked."""
    return (
        StaffRole.objects.filter(user=user, role__in=TWO_FACTOR_REQUIRED).exists()
        or confirmed_device(user) is not None
    )


def safe_next(request: HttpRequest, default: str = "") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default or reverse("staff-home")


def pending_start(request: HttpRequest, user: Any, *, clock: Clock, next_url: str) -> None:
    """The password was right; the code is still to come."""
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "at": clock.now().isoformat(),
        "next": next_url,
    }


def verifying_user(request: HttpRequest, *, clock: Clock) -> Any | None:
    """Whose second factor is being asked for: a signed-in user not yet verified, or the
    user whose password was just right (for ``PENDING_FOR``)."""
    user = request.user
    if user.is_authenticated:
        return user
    pending = request.session.get(PENDING_KEY)
    if not pending:
        return None
    if clock.now() - datetime.fromisoformat(pending["at"]) > PENDING_FOR:
        del request.session[PENDING_KEY]
        return None
    return auth.get_user_model().objects.filter(pk=pending["user"], is_active=True).first()


def two_factor_complete(request: HttpRequest, user: Any, device: TOTPDevice) -> str:
    """The code was right: sign the user in (if they were pending) with the device, and
    say where to go next."""
    pending = request.session.pop(PENDING_KEY, None) or {}
    if not request.user.is_authenticated:
        auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    otp_login(request, device)
    return str(pending.get("next") or reverse("staff-home"))


def signed_in(request: HttpRequest) -> HttpResponse | None:
    """None when the user is fully signed in; otherwise where they must go first."""
    user = request.user
    if not user.is_authenticated:
        query = urlencode({"next": request.get_full_path()})
        return HttpResponseRedirect(f"{reverse('staff-login')}?{query}")
    if needs_two_factor(user) and not is_verified(user):
        step = "staff-login-code" if confirmed_device(user) else "staff-login-setup"
        return HttpResponseRedirect(reverse(step))
    return None


def staff_user(request: HttpRequest) -> Any:
    """The signed-in user (``signed_in`` has checked there is one)."""
    return request.user


def is_verified(user: Any) -> bool:
    """Whether this session's user gave their second factor (django-otp's middleware)."""
    return bool(getattr(user, "is_verified", lambda: False)())


def staff_roles(user: Any) -> list[StaffRole]:
    return list(StaffRole.objects.filter(user=user).select_related("organization"))


def forbidden(request: HttpRequest, message: str = "") -> HttpResponse:
    return render(request, "staff/forbidden.html", {"message": message}, status=403)


def staff_view(action: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """The view runs for a signed-in staff member whose role in the chosen organization
    may do ``action`` (403 otherwise); ``request.staff`` says who and where."""

    def wrap(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            first = signed_in(request)
            if first is not None:
                return first
            org_id = request.session.get(ORG_KEY)
            role = (
                StaffRole.objects.filter(user=staff_user(request), organization_id=org_id)
                .select_related("organization")
                .first()
                if org_id
                else None
            )
            if role is None:
                query = urlencode({"next": request.get_full_path()})
                return HttpResponseRedirect(f"{reverse('staff-organization')}?{query}")
            if not may(role.role, action):
                return forbidden(request)
            request.staff = Staff(  # type: ignore[attr-defined]
                user=request.user, organization=role.organization, role=role.role
            )
            # Times on staff pages read in the gym's own zone, not the server's UTC.
            with timezone.override(organization_zone(organization_id=role.organization_id)):
                return view(request, *args, **kwargs)

        page.staff_action = action  # type: ignore[attr-defined]
        return page

    return wrap
