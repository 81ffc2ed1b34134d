"""Members sign in to the portal with a link emailed to them: no password to forget or
leak. A link names one member and an expiry and carries the time of the member's last
sign-in, so it works once: signing in moves that time and every earlier link dies.

The link opens a page with a button; only pressing it signs in. Mail scanners that fetch
every link in a message would otherwise use the link up before the member clicks it.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction

from dues.core.channels import Channel
from dues.core.clock import Clock
from dues.core.tokens import LinkExpired, token_read, token_sign
from dues.members.models import Member
from dues.notify.render import message_language
from dues.notify.send import messages_send
from dues.notify.services import message_create

SALT = "dues.portal.signin"
LINK_LIFETIME = timedelta(minutes=30)


class SigninLinkInvalid(Exception):
    """The link is forged or altered (``invalid``), ``expired`` or already ``used``."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"this sign-in link is {reason}")
        self.reason = reason


def _state(member: Member) -> str:
    at = member.portal_signed_in_at
    return at.isoformat() if at else "-"


def signin_token(member: Member, *, clock: Clock) -> str:
    return token_sign(
        {"m": member.pk, "s": _state(member)}, salt=SALT, lifetime=LINK_LIFETIME, clock=clock
    )


def signin_request(*, email: str, clock: Clock) -> int:
    """Email a sign-in link to every member with this address (a person may belong to
    more than one gym). Returns how many were sent; the page says the same either way,
    so the form cannot be used to learn who is a member."""
    email = email.strip()
    # Former members too: they may still have an invoice to pay or a receipt to fetch.
    members = list(
        Member.objects.filter(email__iexact=email).select_related("home_location", "organization")
    )
    ids: list[int] = []
    with transaction.atomic():
        for member in members:
            url = f"{settings.DUES_PUBLIC_URL}/me/signin/{signin_token(member, clock=clock)}/"
            message = message_create(
                member=member,
                location=member.home_location,
                channel=Channel.EMAIL,
                template="portal/signin",
                context={
                    "first_name": member.first_name,
                    "gym": member.organization.name,
                    "signin_url": url,
                    "minutes": int(LINK_LIFETIME.total_seconds() // 60),
                },
                language=message_language(member, member.home_location),
                created_at=clock.now(),
            )
            ids.append(message.pk)
    if ids:
        # The member is waiting at the screen: send now rather than at the next tick
        # (a failure leaves the message queued and the tick tries again).
        messages_send(clock=clock, ids=ids)
    return len(ids)


def signin_member(token: str, *, clock: Clock) -> Member:
    """The member a link signs in, checked but not yet used."""
    try:
        data = token_read(token, salt=SALT, clock=clock)
    except LinkExpired as exc:
        raise SigninLinkInvalid("expired") from exc
    except signing.BadSignature as exc:
        raise SigninLinkInvalid("invalid") from exc
    member = Member.objects.filter(pk=data["m"]).select_related("organization").first()
    if member is None:
        raise SigninLinkInvalid("invalid")
    if data["s"] != _state(member):
        raise SigninLinkInvalid("used")
    return member


def signin_use(token: str, *, clock: Clock) -> Member:
    """Check the link and use it up. Two presses of one link race on the update: only
    the one that still sees the old sign-in time wins."""
    member = signin_member(token, clock=clock)
    now = clock.now()
    used = Member.objects.filter(
        pk=member.pk, portal_signed_in_at=member.portal_signed_in_at
    ).update(portal_signed_in_at=now)
    if not used:
        raise SigninLinkInvalid("used")
    member.portal_signed_in_at = now
    return member
