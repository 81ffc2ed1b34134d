"""DESIGN invariant 8: every row belongs to one organization (light checks)."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError

from dues.billing.models import Invoice
from dues.billing.services import subscription_create
from dues.core.models import Organization, OrgOwned, OrgScoped
from dues.ops.jobs import bill
from tests.factories import add_card, d, make_location, make_member, make_org, make_plan

pytestmark = pytest.mark.django_db


def _org_models():
    return [
        m
        for m in apps.get_models()
        if any(
            f.is_relation and f.many_to_one and f.related_model is Organization
            for f in m._meta.get_fields()
        )
    ]


def test_org_owned_models_are_found():
    names = {m.__name__ for m in _org_models()}
    assert {"Subscription", "Invoice", "InvoiceLine", "PaymentAttempt", "JournalLine"} <= names
    for m in _org_models():
        field = m._meta.get_field("organization")
        assert not field.null, f"{m.__name__}.organization is nullable"
    assert all(
        issubclass(m, OrgOwned | OrgScoped)
        for m in _org_models()
        if m._meta.app_label in {"billing", "payments", "ledger"}
    )


def test_another_organization_sees_none_of_our_rows(org, location, clock, gateway):
    plan = make_plan(org)
    member = make_member(org, clock)
    add_card(member, clock)
    subscription_create(
        member=member, plan=plan, location=location, start_date=d("2026-01-15"), clock=clock
    )
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    other = make_org(clock)
    populated = 0
    for model in _org_models():
        ours = model.objects.filter(organization=org).count()
        theirs = model.objects.filter(organization=other).count()
        total = model.objects.count()
        # Everything we created is ours; a fresh organization owns only its own set-up rows.
        assert ours + theirs == total, model.__name__
        if model in (Invoice,):
            assert (ours, theirs) == (1, 0)
        populated += bool(ours)
    assert populated >= 8


def test_member_cannot_join_another_organizations_plan(org, location, clock):
    other = make_org(clock)
    other_loc = make_location(other)
    their_plan = make_plan(other)
    member = make_member(org, clock)
    with pytest.raises(ValidationError) as err:
        subscription_create(
            member=member,
            plan=their_plan,
            location=location,
            start_date=d("2026-01-15"),
            clock=clock,
        )
    assert err.value.message_dict == {"plan": ["belongs to another organization"]}
    with pytest.raises(ValidationError) as err:
        subscription_create(
            member=member,
            plan=make_plan(org),
            location=other_loc,
            start_date=d("2026-01-15"),
            clock=clock,
        )
    assert err.value.message_dict == {"location": ["belongs to another organization"]}
    assert Invoice.objects.count() == 0
