"""The owner's team page (who works here, in which role; invite, change, remove, reset a
lost authenticator) and the pages where staff set or reset their password (Django's own
token views: the link works once and expires)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_otp.plugins.otp_totp.models import TOTPDevice

from dues.core.clock import SystemClock
from dues.staff.forms import TeamInviteForm, TeamRoleForm, errors_to_form
from dues.staff.models import StaffChange, StaffRole
from dues.staff.roles import Action, Role
from dues.staff.session import staff_view
from dues.staff.team import (
    InviteNotSent,
    only_here,
    team_invite,
    team_invite_again,
    team_remove,
    team_role_change,
    team_two_factor_reset,
)
from dues.staff.views.members import staff_of

CLOCK = SystemClock()


def _team(organization_id: int) -> list[StaffRole]:
    device = TOTPDevice.objects.filter(user_id=OuterRef("user_id"), confirmed=True)
    return list(
        StaffRole.objects.filter(organization_id=organization_id)
        .select_related("user")
        .annotate(two_factor=Exists(device), gyms=Count("user__staff_roles"))
        .order_by("user__first_name", "user__last_name", "user__username")
    )


@require_http_methods(["GET", "POST"])
@staff_view(Action.STAFF_MANAGE)
def team(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    form = TeamInviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            row = team_invite(
                by=staff.user, organization=staff.organization, clock=CLOCK, **form.cleaned_data
            )
        except ValidationError as exc:
            errors_to_form(form, exc)
        except InviteNotSent as exc:
            messages.warning(
                request,
                _(
                    "%(email)s is on the team, but the email with their link could not be "
                    "sent. Open their page and send the link again."
                )
                % {"email": exc.row.user.email},
            )
            return HttpResponseRedirect(reverse("staff-team"))
        else:
            messages.success(
                request,
                _("%(email)s is on the team as %(role)s.")
                % {"email": row.user.email, "role": Role(row.role).label},
            )
            return HttpResponseRedirect(reverse("staff-team"))
    changes = StaffChange.objects.filter(
        organization=staff.organization, action=Action.STAFF_MANAGE
    ).select_related("user")[:20]
    return render(
        request,
        "staff/team.html",
        {
            "staff": staff,
            "team": _team(staff.organization.pk),
            "form": form,
            "changes": changes,
            "required": [Role.OWNER.label, Role.MANAGER.label],
        },
    )


@require_http_methods(["GET", "POST"])
@staff_view(Action.STAFF_MANAGE)
def team_member(request: HttpRequest, role_id: int) -> HttpResponse:
    staff = staff_of(request)
    row = (
        StaffRole.objects.filter(organization=staff.organization, pk=role_id)
        .select_related("user", "organization")
        .first()
    )
    if row is None:
        raise Http404
    form = TeamRoleForm(request.POST or None, initial={"role": row.role})
    if request.method == "POST":
        done = _act(request, row, form)
        if done is not None:
            messages.success(request, done)
            gone = not StaffRole.objects.filter(pk=row.pk).exists()
            return HttpResponseRedirect(
                reverse("staff-team") if gone else reverse("staff-team-member", args=[row.pk])
            )
    return render(
        request,
        "staff/team_member.html",
        {
            "staff": staff,
            "row": row,
            "form": form,
            "two_factor": TOTPDevice.objects.filter(user_id=row.user_id, confirmed=True).exists(),
            "only_here": only_here(row),
            "is_self": row.user_id == staff.user.pk,
            "days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        },
    )


def _act(request: HttpRequest, row: StaffRole, form: TeamRoleForm) -> str | None:
    """Do what the pressed button asks; the message to show, or None (errors on the form)."""
    by = staff_of(request).user
    name = row.user.get_full_name() or row.user.get_username()
    do = request.POST.get("do", "")
    try:
        if do == "role":
            if not form.is_valid():
                return None
            row = team_role_change(by=by, row=row, role=form.cleaned_data["role"], clock=CLOCK)
            return _("%(name)s is now %(role)s.") % {"name": name, "role": Role(row.role).label}
        if do == "remove":
            team_remove(by=by, row=row, clock=CLOCK)
            return _("%(name)s is no longer on the team.") % {"name": name}
        if do == "two_factor":
            team_two_factor_reset(by=by, row=row, clock=CLOCK)
            return _("%(name)s sets up a new authenticator app at their next sign-in.") % {
                "name": name
            }
        if do == "invite":
            team_invite_again(by=by, row=row, clock=CLOCK)
            return _("A link to set a password is on its way to %(email)s.") % {
                "email": row.user.email
            }
    except ValidationError as exc:
        errors_to_form(form, exc)
        return None
    form.add_error(None, _("Choose what to do."))
    return None


class PasswordSet(auth_views.PasswordResetConfirmView):
    """The link from an invitation or a reset email: choose a password, then sign in."""

    template_name = "staff/password_set.html"
    success_url = reverse_lazy("staff-password-done")


class StaffPasswordResetForm(PasswordResetForm):
    def get_users(self, email: str) -> Iterator[Any]:
        """Only people on some gym's staff (Django's form already leaves out inactive
        accounts and ones without a usable password)."""
        for user in super().get_users(email):
            if StaffRole.objects.filter(user=user).exists():
                yield user


class PasswordForgot(auth_views.PasswordResetView):
    """Sends the link to the address if a staff account has it; says the same either way,
    so the page does not reveal who works where."""

    template_name = "staff/password_forgot.html"
    email_template_name = "staff/email/reset.txt"
    subject_template_name = "staff/email/reset_subject.txt"
    success_url = reverse_lazy("staff-password-sent")
    form_class = StaffPasswordResetForm

    def form_valid(self, form: Any) -> HttpResponse:
        self.extra_email_context = {
            "public_url": settings.DUES_PUBLIC_URL,
            "days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        }
        return super().form_valid(form)


def password_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "staff/password_sent.html", {})


def password_done(request: HttpRequest) -> HttpResponse:
    return render(request, "staff/password_done.html", {})
