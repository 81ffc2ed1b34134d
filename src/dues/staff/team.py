"""The owner's team: who works for the gym, in which role, and their way in.

A new person gets a Django user with no usable password and an email with a link to set
one (Django's password-reset token: it works once, and stops working when the password
changes or after ``PASSWORD_RESET_TIMEOUT``). Every change leaves a ``StaffChange`` row in
the same transaction. A gym always keeps at least one owner.

A user may work for several gyms. What belongs to the person rather than to this gym (the
password link, the authenticator device) is only touched here when this gym is the only
one they work for; otherwise another gym's owner could weaken that gym's sign-in.
"""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from dues.core.clock import Clock
from dues.core.models import Organization
from dues.staff.models import StaffRole
from dues.staff.roles import TWO_FACTOR_REQUIRED, Action, Role
from dues.staff.services import staff_change_record, staff_role_grant

log = logging.getLogger(__name__)


def _person(user: Any) -> dict[str, Any]:
    return {"user": user.get_username(), "email": user.email, "name": user.get_full_name()}


def _record(
    *, by: Any, organization: Organization, row: StaffRole, summary: str, **change: Any
) -> None:
    staff_change_record(
        user=by,
        organization_id=organization.pk,
        action=Action.STAFF_MANAGE,
        target=f"staff.staffrole:{row.pk}",
        summary=summary,
        before=change.get("before", {}),
        after=change.get("after", {}),
        clock=change["clock"],
    )


def _owners_left(organization: Organization, without: StaffRole) -> int:
    return (
        StaffRole.objects.filter(organization=organization, role=Role.OWNER)
        .exclude(pk=without.pk)
        .count()
    )


def only_here(row: StaffRole) -> bool:
    """Whether the person works for this gym alone (their password and device are then
    this gym's to reset)."""
    return not StaffRole.objects.filter(user_id=row.user_id).exclude(pk=row.pk).exists()


def password_link(user: Any) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("staff-password", args=[uid, token])
    return f"{settings.DUES_PUBLIC_URL}{path}"


def invite_send(*, user: Any, organization: Organization, role: str) -> bool:
    """The email with the link to set a password (Django's mail backend); False when the
    mail server did not take it (logged; the owner can send the link again)."""
    context = {
        "name": user.get_full_name() or user.get_username(),
        "organization": organization.name,
        "role": Role(role).label,
        "two_factor": Role(role) in TWO_FACTOR_REQUIRED,
        "username": user.get_username(),
        "link": password_link(user),
        "days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        "login": f"{settings.DUES_PUBLIC_URL}{reverse('staff-login')}",
    }
    subject = " ".join(render_to_string("staff/email/invite_subject.txt", context).split())
    mail = EmailMultiAlternatives(
        subject, render_to_string("staff/email/invite.txt", context), to=[user.email]
    )
    try:
        mail.send()
    except (OSError, smtplib.SMTPException):
        log.exception("staff invitation to user %s not sent", user.pk)
        return False
    return True


class InviteNotSent(Exception):
    """The person is on the team but the email with their link did not go out."""

    def __init__(self, row: StaffRole) -> None:
        super().__init__(f"invitation for staff role {row.pk} not sent")
        self.row = row


def team_invite(
    *,
    by: Any,
    organization: Organization,
    email: str,
    first_name: str,
    last_name: str,
    role: str,
    clock: Clock,
) -> StaffRole:
    """Add a person to the team. Someone new gets an account named by their email; someone
    who already has one (they work for another gym) gets this role on it."""
    email = email.strip().lower()
    users = get_user_model().objects
    user = users.filter(email__iexact=email).order_by("id").first()
    if user is not None and StaffRole.objects.filter(user=user, organization=organization).exists():
        raise ValidationError({"email": _("%(email)s is on the team already.") % {"email": email}})
    if user is None and users.filter(username__iexact=email).exists():
        raise ValidationError({"email": _("An account named %(email)s exists.") % {"email": email}})
    with transaction.atomic():
        new = user is None
        if user is None:
            # No password given: Django stores an unusable one until the link sets it.
            user = users.create_user(
                username=email,
                email=email,
                first_name=first_name.strip(),
                last_name=last_name.strip(),
            )
        row = staff_role_grant(user=user, organization=organization, role=role, clock=clock)
        _record(
            by=by,
            organization=organization,
            row=row,
            summary=f"{email} added as {Role(role).label}",
            after=_person(user) | {"role": role, "new_account": new},
            clock=clock,
        )
    if new and not invite_send(user=user, organization=organization, role=role):
        raise InviteNotSent(row)
    return row


def team_role_change(*, by: Any, row: StaffRole, role: str, clock: Clock) -> StaffRole:
    role = Role(role)
    if row.role == role:
        return row
    with transaction.atomic():
        row = StaffRole.objects.select_for_update().get(pk=row.pk)
        organization = row.organization
        if row.role == Role.OWNER and not _owners_left(organization, row):
            raise ValidationError(
                {"role": _("A gym needs an owner: make someone else owner first.")}
            )
        before = row.role
        row.role = role
        row.save(update_fields=["role"])
        _record(
            by=by,
            organization=organization,
            row=row,
            summary=f"{row.user.get_username()}: {Role(before).label} → {role.label}",
            before={"role": before},
            after={"role": role},
            clock=clock,
        )
    return row


def team_remove(*, by: Any, row: StaffRole, clock: Clock) -> None:
    """Take the person off this gym's team (their account stays: it may work elsewhere,
    and their past actions keep naming them)."""
    with transaction.atomic():
        row = StaffRole.objects.select_for_update().get(pk=row.pk)
        organization = row.organization
        if row.role == Role.OWNER and not _owners_left(organization, row):
            raise ValidationError(_("A gym needs an owner: make someone else owner first."))
        _record(
            by=by,
            organization=organization,
            row=row,
            summary=f"{row.user.get_username()} removed",
            before=_person(row.user) | {"role": row.role},
            clock=clock,
        )
        row.delete()


def _own_account(row: StaffRole) -> None:
    if not only_here(row):
        raise ValidationError(
            _(
                "This person also works for another gym, so their sign-in is not this gym's "
                "to reset. They can reset their password from the sign-in page."
            )
        )


def team_two_factor_reset(*, by: Any, row: StaffRole, clock: Clock) -> int:
    """Forget the person's authenticator app (a lost phone): they set up a new one at their
    next sign-in. Returns how many devices were removed."""
    _own_account(row)
    with transaction.atomic():
        removed, _kinds = TOTPDevice.objects.filter(user_id=row.user_id).delete()
        _record(
            by=by,
            organization=row.organization,
            row=row,
            summary=f"{row.user.get_username()}: authenticator app reset",
            before={"devices": removed},
            after={"devices": 0},
            clock=clock,
        )
    return int(removed)


def team_invite_again(*, by: Any, row: StaffRole, clock: Clock) -> None:
    """Email a new link to set a password (the person forgot theirs, or the first link
    expired); the old password keeps working until they set a new one."""
    _own_account(row)
    if not row.user.email:
        raise ValidationError(_("This account has no email address."))
    if not invite_send(user=row.user, organization=row.organization, role=row.role):
        raise ValidationError(_("The mail server did not take the email. Try again later."))
    _record(
        by=by,
        organization=row.organization,
        row=row,
        summary=f"{row.user.get_username()}: password link sent",
        clock=clock,
    )
