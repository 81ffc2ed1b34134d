"""Reads about members: marketing consent as it stands now, and the channels a message
may use given the member's notification preferences."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import OuterRef, QuerySet, Subquery

from dues.core.channels import Channel
from dues.members.models import ConsentChange, ConsentChannel, Member, MessagePurpose

# Payment messages always go by these, whatever the member chose; only SMS can be turned
# off for them (see ``message_channels``).
PAYMENT_ALWAYS_ON: tuple[str, ...] = (Channel.EMAIL, Channel.IN_APP)
# Channels that put words in front of the member (a staff call task is the gym's own work).
MEMBER_CHANNELS: frozenset[str] = frozenset({Channel.EMAIL, Channel.SMS, Channel.IN_APP})


def consent_history(member: Member) -> QuerySet[ConsentChange]:
    """Every change of the member's marketing consent, oldest first."""
    return ConsentChange.objects.filter(
        organization_id=member.organization_id, member=member
    ).order_by("changed_at", "id")


def consent_current(member: Member) -> dict[str, bool]:
    """The member's marketing consent per channel now: the latest change on each channel;
    a channel never answered is not consented (the default is no consent)."""
    state = dict.fromkeys(ConsentChannel.values, False)
    for channel, granted in consent_history(member).values_list("channel", "granted"):
        state[channel] = granted
    return state


def consent_granted_members(*, organization_id: int, channel: str) -> QuerySet[Member]:
    """The members of an organization whose current marketing consent on ``channel`` is
    granted.

    Campaigns (news, offers, event invitations: the marketing app) must only go to members
    whose current consent on the campaign's channel is granted, which is exactly this set.
    Ask it when sending, not when the campaign was planned: a member who withdrew their
    consent in between must get nothing. Consent is not needed for service and payment
    messages, which follow the notification preferences (``message_channels``) instead.
    """
    if channel not in ConsentChannel.values:
        raise ValueError(f"unknown channel {channel!r}; use {', '.join(ConsentChannel.values)}")
    latest = (
        ConsentChange.objects.filter(member=OuterRef("pk"), channel=channel)
        .order_by("-changed_at", "-id")
        .values("granted")[:1]
    )
    return (
        Member.objects.filter(organization_id=organization_id)
        .annotate(consent_now=Subquery(latest))
        .filter(consent_now=True)
    )


def message_channels(member: Member, *, purpose: str, channels: Iterable[str]) -> list[str]:
    """The channels a message to ``member`` goes by: those the sender chose (a dunning
    step's channels, a class reminder's), in the sender's order, less the ones the member
    turned off for messages of this ``purpose`` (``MessagePurpose``).

    Service messages (class reminders and the like): the member's choice is final. A
    channel they turned off is not used, and with every channel off they get none.

    Payment messages (reminders of money owed, notices before a charge, receipts) must
    reach the member whatever they chose: the member is owed a receipt and a warning
    before a late fee, a blocked door or a debt collector, and the gym must be able to
    show it gave one. So:

    - email and in-app (``PAYMENT_ALWAYS_ON``) cannot be turned off for payment messages:
      email is the written copy the member keeps, the in-app inbox is the account's own
      record. Only SMS can be turned off (``Member.payment_sms``).
    - When the member's choice would take away every channel the sender picked (an
      SMS-only step with SMS turned off), the message goes by email and in-app instead.

    Staff call tasks (``Channel.CALL``) are not the member's to turn off and pass through
    as chosen; they do not count as reaching the member.
    """
    wanted = list(dict.fromkeys(channels))
    off: set[str]
    if purpose == MessagePurpose.SERVICE:
        off = {
            channel
            for channel, on in (
                (Channel.EMAIL, member.service_email),
                (Channel.SMS, member.service_sms),
                (Channel.IN_APP, member.service_in_app),
            )
            if not on
        }
    elif purpose == MessagePurpose.PAYMENT:
        off = set() if member.payment_sms else {Channel.SMS}
    else:
        raise ValueError(f"unknown purpose {purpose!r}; use {', '.join(MessagePurpose.values)}")
    kept = [channel for channel in wanted if channel not in off]
    if (
        purpose == MessagePurpose.PAYMENT
        and MEMBER_CHANNELS.intersection(wanted)
        and not MEMBER_CHANNELS.intersection(kept)
    ):
        kept += [channel for channel in PAYMENT_ALWAYS_ON if channel not in kept]
    return kept
