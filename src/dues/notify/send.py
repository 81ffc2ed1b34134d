"""Sending queued email and SMS, after the transaction that decided them (DESIGN: side
effects run from the outbox, never inside the deciding transaction).

A message is claimed (``sending``, with a lease) in its own short transaction, sent with
no transaction open, then marked ``sent``, or queued again with a growing back-off, or
``failed`` after the last try, or at once when the provider says trying again cannot help
(an SMS to a number that does not exist). A process that dies between sending and marking
leaves the lease to expire and the message is sent again: email and SMS are at-least-once,
which is the right side to err on for a reminder about money.

An email about an invoice carries the invoice as a PDF, rendered here, at sending time,
in the message's language.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.dummy import EmailBackend as DiscardingBackend
from django.db import connection, transaction
from django.db.models import Q

from dues.billing.models import ContractSignature, Invoice
from dues.core.channels import Channel
from dues.core.clock import Clock
from dues.core.db import forbid_transaction
from dues.notify.documents import (
    contract_filename,
    contract_pdf,
    invoice_filename,
    invoice_pdf,
)
from dues.notify.models import Message, MessageStatus
from dues.notify.services import message_transition
from dues.notify.sms import SmsBackend, SmsError, sms_backend

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
    sms: SmsBackend | None = None
    for message in claimed:
        note = ""
        try:
            if message.channel == Channel.EMAIL:
                provider_id, note = _send_email(email, message)
            else:
                # Made at the first SMS, inside the try: a misconfigured provider fails
                # its SMS (retried, with the reason on each) but never holds up email.
                if sms is None:
                    sms = sms_backend()
                provider_id = sms.send(to=message.to, body=message.body, reference=str(message.pk))
        except Exception as exc:  # any failure of the provider: try again later
            log.warning("message %s not sent: %s", message.pk, exc)
            # A permanent refusal (the number does not exist) is not worth four more tries.
            permanent = isinstance(exc, SmsError) and exc.permanent
            with transaction.atomic():
                if permanent or message.tries >= MAX_TRIES:
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
                error=note,
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


class DocumentError(Exception):
    """A document an email carries (its invoice) could not be rendered."""


def _send_email(conn: BaseEmailBackend, message: Message) -> tuple[str, str]:
    """Send one email; its Message-ID and a note for the delivery log (empty if none)."""
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
    note = ""
    # A backend that throws mail away (simulations) needs no PDF, which takes ~0.5 s.
    if not isinstance(conn, DiscardingBackend):
        try:
            for name, content, mimetype in _documents(message):
                mail.attach(name, content, mimetype)
        except Exception as exc:
            # Retried like a refused send, as many causes pass (a database hiccup, a
            # worker out of memory). On the last try the email goes without it rather
            # than be lost: its text states the amount and links to the invoice's page,
            # which is what the member needs; the PDF is the copy to keep.
            if message.tries < MAX_TRIES:
                raise DocumentError(f"document not rendered: {exc}") from exc
            log.exception("message %s: sending without its PDF", message.pk)
            note = f"sent without its PDF: {exc}"
    mail.send()
    return msgid, note


def _documents(message: Message) -> list[tuple[str, bytes, str]]:
    """What the email carries as (file name, bytes, type): the contract a new member
    signed, or the invoice it is about, as it stands now (paid since the reminder was
    written, it says so), in the message's language."""
    event = message.event
    if event is not None and event.topic == "contract.signed":
        signature = ContractSignature.objects.select_related("member", "location").get(
            pk=event.payload["signature_id"], organization_id=message.organization_id
        )
        return [(contract_filename(signature), contract_pdf(signature), "application/pdf")]
    if message.invoice_id is None:
        return []
    invoice = Invoice.objects.select_related("organization", "location", "payer").get(
        pk=message.invoice_id, organization_id=message.organization_id
    )
    return [(invoice_filename(invoice), invoice_pdf(invoice, message.language), "application/pdf")]
