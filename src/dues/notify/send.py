"""Sending queued email and SMS, after the transaction that decided them (DESIGN: side
effects run from the outbox, never inside the deciding transaction).

A message is claimed (``sending``, with a lease) in its own short transaction, sent with
no transaction open, then marked ``sent``, or queued again with a growing back-off, or
``failed`` after the last try. A process that dies between sending and marking leaves the
lease to expire and the message is sent again: email and SMS are at-least-once, which is
the right side to err on for a reminder about money.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection, transaction
from django.db.models import Q

from dues.core.channels import Channel
from dues.core.clock import Clock
from dues.core.db import forbid_transaction
from dues.notify.models import Message, MessageStatus
from dues.notify.services import message_transition
from dues.notify.sms import sms_backend

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=15)
BACKOFF = (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=8))
MAX_TRIES = len(BACKOFF) + 1


def messages_send(
    *, clock: Clock, limit: int = 200, ids: list[int] | None = None
) -> dict[str, int]:
    """Send what is due; with ``ids``, only those messages (one a member waits for)."""
    forbid_transaction("sending messages")
    counts = {"sent": 0, "retrying": 0, "failed": 0}
    claimed = _claim(clock, limit, ids)
    if not claimed:
        return counts
    email = get_connection(fail_silently=False)
    sms = sms_backend()
    for message in claimed:
        try:
            if message.channel == Channel.EMAIL:
                provider_id = _send_email(email, message)
            else:
                provider_id = sms.send(to=message.to, body=message.body, reference=str(message.pk))
        except Exception as exc:  # any failure of the provider: try again later
            log.warning("message %s not sent: %s", message.pk, exc)
            with transaction.atomic():
                if message.tries >= MAX_TRIES:
                    message_transition(message, MessageStatus.FAILED, clock=clock, error=str(exc))
                    counts["failed"] += 1
                else:
                    message_transition(
                        message,
                        MessageStatus.QUEUED,
                        clock=clock,
                        error=str(exc),
                        next_try_at=clock.now() + BACKOFF[message.tries - 1],
                    )
                    counts["retrying"] += 1
            continue
        with transaction.atomic():
            message_transition(
                message,
                MessageStatus.SENT,
                clock=clock,
                provider_id=provider_id,
                error="",
                next_try_at=None,
            )
        counts["sent"] += 1
    email.close()
    return counts


def _claim(clock: Clock, limit: int, ids: list[int] | None) -> list[Message]:
    now = clock.now()
    due = Q(status=MessageStatus.QUEUED) & (Q(next_try_at__isnull=True) | Q(next_try_at__lte=now))
    expired = Q(status=MessageStatus.SENDING, next_try_at__lte=now)
    with transaction.atomic():
        qs = Message.objects.filter(due | expired, channel__in=[Channel.EMAIL, Channel.SMS])
        if ids is not None:
            qs = qs.filter(pk__in=ids)
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        claimed = list(qs.order_by("id")[:limit])
        for message in claimed:
            if message.status == MessageStatus.SENDING:
                # The sender died after claiming: it may or may not have sent.
                message_transition(
                    message, MessageStatus.QUEUED, clock=clock, error="lease expired; sending again"
                )
            message_transition(
                message,
                MessageStatus.SENDING,
                clock=clock,
                tries=message.tries + 1,
                next_try_at=now + LEASE,
            )
    return claimed


def _send_email(conn: BaseEmailBackend, message: Message) -> str:
    msgid = make_msgid(idstring=f"dues-{message.pk}")
    mail = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.to],
        headers={"Message-ID": msgid, "Content-Language": message.language},
        connection=conn,
    )
    if message.html:
        mail.attach_alternative(message.html, "text/html")
    mail.send()
    return msgid
