"""Class events become messages in the member's language, with the class's local time."""

from __future__ import annotations

from datetime import timedelta

from dues.classes.services import (
    booking_cancel,
    booking_create,
    reminders_send,
    session_cancel,
    sessions_close,
)
from dues.core.outbox import outbox_dispatch
from dues.notify.models import Message
from tests.classes.conftest import STARTS


def _messages(member, template):
    return list(
        Message.objects.filter(member=member, template=template)
        .order_by("channel")
        .values_list("channel", "subject", "body")
    )


def test_a_reminder_in_swedish_with_the_stockholm_time(gym):
    member, _ = gym.member(language="sv")
    booking_create(session=gym.session, member=member, clock=gym.clock)
    gym.clock.set(STARTS - timedelta(hours=2))
    assert reminders_send(clock=gym.clock) == 1
    outbox_dispatch(clock=gym.clock)
    outbox_dispatch(clock=gym.clock)  # a second dispatch writes nothing more
    got = _messages(member, "classes/reminder")
    assert [(c, s) for c, s, _ in got] == [
        ("email", "Påminnelse: Spinning kl. 18:00"),
        ("in_app", "Påminnelse: Spinning kl. 18:00"),
    ]
    assert got[1][2] == (
        "Påminnelse: Spinning börjar den 17 januari 2026 kl. 18:00 i Studio. Om du inte kan "
        "komma, avboka gärna så att någon annan kan få platsen.\n"
        "Dina klassbokningar: http://127.0.0.1:8000/me/classes/\n"
    )


def test_promotion_and_cancellation_messages(gym):
    first, _ = gym.member()
    gym.member()
    booked = booking_create(session=gym.session, member=first, clock=gym.clock)
    booking_create(session=gym.session, member=gym.member()[0], clock=gym.clock)
    waiting_member, _ = gym.member(language="fr")
    booking_create(session=gym.session, member=waiting_member, clock=gym.clock)
    booking_cancel(booking=booked, clock=gym.clock)
    outbox_dispatch(clock=gym.clock)
    subjects = {c: s for c, s, _ in _messages(waiting_member, "classes/promoted")}
    assert subjects == {
        "email": "Vous avez une place à Spinning",
        "in_app": "Vous avez une place à Spinning",
        "sms": "Vous avez une place à Spinning",
    }
    session_cancel(session=gym.session, reason="Kim is ill", clock=gym.clock)
    outbox_dispatch(clock=gym.clock)
    [(_, subject, body)] = [
        m for m in _messages(waiting_member, "classes/cancelled") if m[0] == "in_app"
    ]
    assert subject == "Annulé : Spinning le 17 janvier 2026"
    assert body.startswith(
        "Votre cours Spinning du 17 janvier 2026 à 18:00 est annulé. Les crédits de cours"
    )
    assert "Message de la salle : Kim is ill" in body


def test_a_no_show_fee_message_names_the_amount_and_the_invoice(gym):
    gym.class_type.no_show_fee = 10000
    gym.class_type.save()
    member, _ = gym.member(language="th")
    booking_create(session=gym.session, member=member, clock=gym.clock)
    gym.clock.set(STARTS + timedelta(hours=1))
    sessions_close(clock=gym.clock)
    outbox_dispatch(clock=gym.clock)
    messages = Message.objects.filter(member=member, template="classes/fee_no_show")
    assert sorted(messages.values_list("channel", flat=True)) == ["email", "in_app"]
    inbox = messages.get(channel="in_app")
    assert inbox.subject == "ค่าไม่มาเข้าคลาสสำหรับ Spinning"
    from dues.billing.models import Invoice

    invoice = Invoice.objects.get(pk=inbox.invoice_id)
    assert inbox.body.startswith(
        "คุณจอง Spinning วันที่ 17 มกราคม ค.ศ. 2026 เวลา 18:00 ไว้แต่ไม่ได้เช็กอิน "
        f"จึงมีการเพิ่มค่าไม่มาเข้าคลาส SEK100.00 ในบัญชีของคุณ (ใบแจ้งหนี้ {invoice.number})"
    )
