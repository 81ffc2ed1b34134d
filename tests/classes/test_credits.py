"""Class credits: bought as a pack (invoiced through billing), granted by staff, never
spent twice nor below zero."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from dues.catalog.models import AddOn
from dues.classes.models import ClassCreditAccount, ClassCreditEntry
from dues.classes.selectors import credit_balance
from dues.classes.services import ClassError, class_credits_grant, class_pack_purchase
from dues.ledger.check import ledger_check


def _pack(gym, **kw) -> AddOn:
    fields = {"name": "10 classes", "code": "ten", "kind": "pack", "currency": "SEK"}
    fields |= {"price": 90000, "sessions": 10}
    fields.update(kw)
    return AddOn.objects.create(organization=gym.org, **fields)


def test_a_pack_is_invoiced_and_adds_its_sessions_as_credits(gym):
    member, sub = gym.member()
    entry = class_pack_purchase(sub=sub, addon=_pack(gym), clock=gym.clock)
    assert (entry.kind, entry.amount) == ("pack", 10)
    assert credit_balance(member) == 10
    assert (entry.invoice.total, entry.invoice.lines.get().description) == (90000, "10 classes")
    assert {name: v for name, v in ledger_check().items() if v} == {}


def test_a_recurring_add_on_or_another_currency_gives_no_credits(gym):
    _, sub = gym.member()
    with pytest.raises(ClassError) as exc:
        class_pack_purchase(sub=sub, addon=_pack(gym, kind="recurring", code="r"), clock=gym.clock)
    assert exc.value.message_dict == {"addon": ["only a pack with sessions gives class credits"]}
    with pytest.raises(ClassError) as exc:
        class_pack_purchase(sub=sub, addon=_pack(gym, currency="EUR", code="e"), clock=gym.clock)
    assert exc.value.message_dict == {"addon": ["the pack is priced in EUR, the membership in SEK"]}
    assert not ClassCreditEntry.objects.exists()


def test_staff_grants_need_a_positive_amount_and_a_reason(gym):
    member, _ = gym.member()
    with pytest.raises(ClassError) as exc:
        class_credits_grant(member=member, amount=0, reason="x", clock=gym.clock)
    assert exc.value.message_dict == {"amount": ["give at least one credit"]}
    with pytest.raises(ClassError) as exc:
        class_credits_grant(member=member, amount=2, reason="", clock=gym.clock)
    assert exc.value.message_dict == {"reason": ["say why the credits are given"]}
    class_credits_grant(member=member, amount=2, reason="sorry", clock=gym.clock)
    assert credit_balance(member) == 2


def test_the_balance_can_never_go_below_zero(gym):
    member, _ = gym.member()
    class_credits_grant(member=member, amount=1, reason="x", clock=gym.clock)
    with pytest.raises(IntegrityError), transaction.atomic():
        ClassCreditAccount.objects.filter(member=member).update(balance=-1)


def test_the_credit_history_is_append_only(gym):
    member, _ = gym.member()
    entry = class_credits_grant(member=member, amount=1, reason="x", clock=gym.clock)
    entry.amount = 5
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
