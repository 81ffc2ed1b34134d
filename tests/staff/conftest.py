"""Staff users, signed-in clients and a member with money on their account."""

from __future__ import annotations

import importlib
import itertools
import pkgutil
from dataclasses import dataclass
from types import ModuleType

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from dues.billing.models import Invoice, Subscription
from dues.members.models import Member
from dues.ops.jobs import bill
from dues.payments.models import Payment
from dues.staff import views
from dues.staff.services import staff_role_grant
from dues.staff.session import ORG_KEY
from tests.factories import d, join

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


def staff_view_modules() -> list[ModuleType]:
    """Every module of ``dues.staff.views`` (each page module reads its own ``CLOCK``)."""
    return [
        importlib.import_module(f"{views.__name__}.{info.name}")
        for info in pkgutil.iter_modules(views.__path__)
    ]


@pytest.fixture
def staff_clock(monkeypatch, clock):
    """The staff pages on the test's clock."""
    for module in staff_view_modules():
        if hasattr(module, "CLOCK"):
            monkeypatch.setattr(module, "CLOCK", clock)
    return clock


def make_user(username: str | None = None):
    return get_user_model().objects.create_user(
        username=username or f"staff{next(_seq)}", password=PASSWORD
    )


def make_staff(org, role: str, clock, *, username: str | None = None, device: bool = False):
    user = make_user(username)
    staff_role_grant(user=user, organization=org, role=role, clock=clock)
    if device:
        TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    return user


def code_for(device: TOTPDevice, *, ahead: int = 0) -> str:
    """The code the member's app would show now (``ahead`` steps later)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def client_for(user, org) -> Client:
    """A client signed in as ``user`` (second factor done if they have a device), working
    for ``org``: for tests about what a role may do, not about signing in."""
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    session[ORG_KEY] = org.pk
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@dataclass
class Account:
    member: Member
    sub: Subscription
    paid: Invoice
    payment: Payment


@pytest.fixture
def account(org, location, staff_clock, gateway) -> Account:
    """Anna, on a 499.00 SEK monthly plan (30 days' notice), whose first invoice was paid
    by card on 15 January 2026."""
    member, sub = join(
        org,
        location,
        staff_clock,
        member_kw={"first_name": "Anna", "last_name": "Lindqvist", "phone": "+46 70 123 45 67"},
        notice_days=30,
    )
    bill(as_of=d("2026-01-15"), clock=staff_clock, gateway=gateway)
    paid = Invoice.objects.get(payer=member)
    payment = Payment.objects.get(invoice=paid)
    return Account(member, sub, paid, payment)
