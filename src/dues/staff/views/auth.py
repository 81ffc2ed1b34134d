"""Signing in: password (throttled by django-axes), then the TOTP code (or setting up a
device first), then the organization to work in; and signing out."""

from __future__ import annotations

from base64 import b32encode
from typing import Any

import segno
from django.contrib import auth
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from dues.core.clock import SystemClock
from dues.staff.forms import CodeForm, LoginForm, OrganizationForm
from dues.staff.models import StaffRole
from dues.staff.session import (
    ORG_KEY,
    confirmed_device,
    is_verified,
    needs_two_factor,
    pending_start,
    safe_next,
    signed_in,
    staff_roles,
    two_factor_complete,
    verifying_user,
)

CLOCK = SystemClock()


@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST or None)
    next_url = safe_next(request)
    if request.method == "POST" and form.is_valid():
        user = auth.authenticate(
            request,
            username=form.cleaned_data["username"],
            password=form.cleaned_data["password"],
        )
        if user is None:
            # Past the limit, django-axes' middleware answers with ``locked_out`` instead.
            form.add_error(None, _("The user name or the password is wrong."))
        elif not StaffRole.objects.filter(user=user).exists():
            form.add_error(None, _("This account is not on the staff of any gym."))
        elif needs_two_factor(user):
            pending_start(request, user, clock=CLOCK, next_url=next_url)
            step = "staff-login-code" if confirmed_device(user) else "staff-login-setup"
            return HttpResponseRedirect(reverse(step))
        else:
            auth.login(request, user)
            return HttpResponseRedirect(next_url)
    return render(request, "staff/login.html", {"form": form, "next": next_url})


def locked_out(request: HttpRequest, response: Any = None, credentials: Any = None) -> HttpResponse:
    """django-axes' answer once a user name has failed too often from one address."""
    return render(request, "staff/locked.html", {"minutes": 15}, status=429)


def _code_check(device: TOTPDevice, form: CodeForm) -> bool:
    """Whether the code is right; if not, the form says why. After a wrong code django-otp
    makes the next try wait (1, 2, 4, … seconds), so guessing takes forever."""
    allowed, _info = device.verify_is_allowed()
    if allowed and device.verify_token(form.cleaned_data["code"]):
        return True
    if allowed:
        form.add_error("code", _("That code is wrong or has expired. Try the newest code."))
    else:
        form.add_error(
            "code", _("Too many wrong codes. Wait a few seconds and try the newest code.")
        )
    return False


@require_http_methods(["GET", "POST"])
def code_page(request: HttpRequest) -> HttpResponse:
    user = verifying_user(request, clock=CLOCK)
    if user is None:
        return HttpResponseRedirect(reverse("staff-login"))
    device = confirmed_device(user)
    if device is None:
        return HttpResponseRedirect(reverse("staff-login-setup"))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and _code_check(device, form):
        return HttpResponseRedirect(two_factor_complete(request, user, device))
    return render(request, "staff/code.html", {"form": form})


def _qr_svg(uri: str) -> str:
    return str(segno.make(uri, error="m").svg_inline(scale=5, dark="#18181b", light="#ffffff"))


@require_http_methods(["GET", "POST"])
def setup_page(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: required for owners and managers before anything else,
    offered to everyone else."""
    user = verifying_user(request, clock=CLOCK)
    if user is None:
        return HttpResponseRedirect(reverse("staff-login"))
    if confirmed_device(user) is not None:
        # One device per person here; with one, the code is what is asked for.
        if request.user.is_authenticated and is_verified(request.user):
            return HttpResponseRedirect(reverse("staff-home"))
        return HttpResponseRedirect(reverse("staff-login-code"))
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and _code_check(device, form):
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        return HttpResponseRedirect(two_factor_complete(request, user, device))
    secret = b32encode(device.bin_key).decode()
    return render(
        request,
        "staff/setup.html",
        {
            "form": form,
            "qr": _qr_svg(device.config_url),
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "uri": device.config_url,
            "required": needs_two_factor(user),
        },
    )


@require_http_methods(["GET", "POST"])
def organization_page(request: HttpRequest) -> HttpResponse:
    first = signed_in(request)
    if first is not None:
        return first
    roles = staff_roles(request.user)
    if not roles:
        return render(request, "staff/forbidden.html", {"message": _("No staff role.")}, status=403)
    choices = [
        (r.organization_id, f"{r.organization.name} · {r.get_role_display()}") for r in roles
    ]
    form = OrganizationForm(request.POST or None, choices=choices)
    chosen = None
    if len(roles) == 1:
        chosen = roles[0].organization_id
    elif request.method == "POST" and form.is_valid():
        chosen = form.cleaned_data["organization"]
    if chosen is not None:
        request.session[ORG_KEY] = chosen
        return HttpResponseRedirect(safe_next(request))
    return render(request, "staff/organization.html", {"form": form, "next": safe_next(request)})


@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    auth.logout(request)
    return HttpResponseRedirect(reverse("staff-login"))
