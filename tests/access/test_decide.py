"""DESIGN invariant 7: one decision function; each test tries to break one of its rules
with the simulated clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from dues.access.decide import AccessError, _use_a_visit, access_decide
from dues.access.models import AccessDecision, CredentialKind, VisitPack
from dues.access.qr import SKEW_SECONDS, STEP_SECONDS, qr_payload, qr_step
from dues.access.services import (
    AccessServiceError,
    credential_issue,
    credential_revoke,
    qr_secret,
    visit_pack_grant,
)
from dues.billing.models import RestrictionKind, SubscriptionStatus
from dues.billing.restrictions import restriction_place, restrictions_lift
from dues.billing.services import subscription_cancel, subscription_create, subscription_freeze
from dues.catalog.models import AddOn
from tests.factories import d, join, make_location, make_member, make_org, make_plan


def scan(location, clock, value, **kw):
    return access_decide(location=location, clock=clock, value=value, **kw)


def test_active_member_enters_and_the_decision_is_logged(location, clock, member, sub, tag):
    decision = scan(location, clock, "TAG-0001")
    assert (decision.allowed, decision.code) == (True, "membership")
    assert decision.reason == "Welcome! Your membership is active."
    assert decision.member == member
    assert decision.subscription == sub
    row = AccessDecision.objects.get()
    assert row.pk == decision.decision_id
    assert (row.allowed, row.reason_code, row.member_id, row.subscription_id) == (
        True,
        "membership",
        member.pk,
        sub.pk,
    )
    assert (row.credential_id, row.kind, row.value, row.at) == (
        tag.pk,
        "barcode",
        "TAG-0001",
        clock.now(),
    )
    assert row.plan_id_at_entry == sub.plan_id


def test_unknown_value_is_refused_and_logged(location, clock):
    decision = scan(location, clock, "NOPE-1234")
    assert (decision.allowed, decision.code) == (False, "unknown_credential")
    row = AccessDecision.objects.get()
    assert (row.allowed, row.reason_code, row.value, row.member_id) == (
        False,
        "unknown_credential",
        "NOPE-1234",
        None,
    )


def test_another_organizations_credential_is_unknown_here(location, clock):
    rival = make_org(clock)
    rival_location = make_location(rival)
    rival_member, _ = join(rival, rival_location, clock)
    credential_issue(member=rival_member, kind=CredentialKind.RFID, value="0412AB99", clock=clock)
    assert scan(rival_location, clock, "0412AB99").code == "membership"
    assert scan(location, clock, "0412AB99").code == "unknown_credential"


def test_revoked_credential_is_refused(location, clock, member, tag):
    credential_revoke(credential=tag, clock=clock, reason="lost")
    decision = scan(location, clock, "TAG-0001")
    assert (decision.allowed, decision.code, decision.member) == (False, "revoked", member)
    # the number can be issued again, and then it opens the door for its new holder
    credential_issue(member=member, kind=CredentialKind.BARCODE, value="TAG-0001", clock=clock)
    assert scan(location, clock, "TAG-0001").code == "membership"


def test_a_tag_value_is_unique_per_organization_and_kind(org, location, clock, tag):
    other = make_member(org, clock)
    with pytest.raises(AccessServiceError) as err:
        credential_issue(member=other, kind=CredentialKind.BARCODE, value="TAG-0001", clock=clock)
    assert err.value.errors == {"value": "this barcode is already in use by another member"}
    # the same number as an RFID card is another credential
    credential_issue(member=other, kind=CredentialKind.RFID, value="TAG-0001", clock=clock)


def test_freeze_refuses_from_its_first_day_by_the_clock_alone(location, clock, sub, tag):
    subscription_freeze(sub=sub, start_date=d("2026-02-01"), end_date=d("2026-03-01"), clock=clock)
    assert scan(location, clock, "TAG-0001").code == "membership"
    # No job has flipped the status: the date reaching the freeze is enough.
    clock.set(datetime(2026, 2, 1, 8, tzinfo=UTC))
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.ACTIVE
    decision = scan(location, clock, "TAG-0001")
    assert (decision.allowed, decision.code) == (False, "frozen")
    assert decision.reason == "Your membership is frozen."
    # The freeze ends on 1 March (first day back), in Stockholm's time zone: 23:30 UTC on
    # 28 February is already 1 March there.
    clock.set(datetime(2026, 2, 28, 22, 30, tzinfo=UTC))
    assert scan(location, clock, "TAG-0001").code == "frozen"
    clock.set(datetime(2026, 2, 28, 23, 30, tzinfo=UTC))
    assert scan(location, clock, "TAG-0001").code == "membership"


def test_frozen_status_refuses(location, clock, sub, tag):
    sub.status = SubscriptionStatus.FROZEN
    sub.save(update_fields=["status"])
    assert scan(location, clock, "TAG-0001").code == "frozen"


def test_cancelled_membership_is_refused(location, clock, sub, tag):
    subscription_cancel(sub=sub, clock=clock, immediately=True)
    decision = scan(location, clock, "TAG-0001")
    assert (decision.allowed, decision.code) == (False, "cancelled")


def test_membership_cancelled_at_a_date_ends_entry_on_that_date(location, clock, sub, tag):
    sub = subscription_cancel(sub=sub, clock=clock)
    assert sub.cancel_at is not None
    day_before = datetime.combine(sub.cancel_at - timedelta(days=1), datetime.min.time(), UTC)
    clock.set(day_before + timedelta(hours=12))
    assert scan(location, clock, "TAG-0001").code == "membership"
    clock.advance(timedelta(days=1))
    assert scan(location, clock, "TAG-0001").code == "cancelled"


def test_membership_not_started_is_refused(org, location, clock):
    member = make_member(org, clock)
    subscription_create(
        member=member,
        plan=make_plan(org),
        location=location,
        start_date=d("2026-02-01"),
        clock=clock,
    )
    credential_issue(member=member, kind=CredentialKind.RFID, value="CARD-77", clock=clock)
    assert scan(location, clock, "CARD-77").code == "not_started"
    clock.set(datetime(2026, 2, 1, 9, tzinfo=UTC))
    assert scan(location, clock, "CARD-77").code == "membership"


def test_access_restriction_refuses_until_lifted(location, clock, sub, tag):
    restriction_place(
        subscription=sub,
        kind=RestrictionKind.ACCESS,
        source="dunning",
        source_id=9,
        reason="unpaid",
        clock=clock,
    )
    decision = scan(location, clock, "TAG-0001")
    assert (decision.allowed, decision.code) == (False, "restricted")
    assert decision.subscription == sub
    clock.advance(timedelta(minutes=1))
    restrictions_lift(source="dunning", source_ids=[9], clock=clock, reason="paid")
    assert scan(location, clock, "TAG-0001").code == "membership"


def test_a_booking_restriction_does_not_close_the_door(location, clock, sub, tag):
    restriction_place(
        subscription=sub, kind=RestrictionKind.BOOKINGS, source="staff", reason="x", clock=clock
    )
    assert scan(location, clock, "TAG-0001").code == "membership"


def test_a_restricted_member_cannot_use_a_visit_pack_instead(location, clock, member, sub, tag):
    visit_pack_grant(member=member, entries=5, clock=clock)
    restriction_place(
        subscription=sub, kind=RestrictionKind.ACCESS, source="dunning", reason="x", clock=clock
    )
    assert scan(location, clock, "TAG-0001").code == "restricted"
    assert VisitPack.objects.get().entries_used == 0


def test_wrong_location_is_refused(org, location, clock):
    elsewhere = make_location(org)
    member, sub = join(org, location, clock)
    sub.plan.locations.set([location])
    credential_issue(member=member, kind=CredentialKind.RFID, value="CARD-1", clock=clock)
    assert scan(location, clock, "CARD-1").code == "membership"
    decision = scan(elsewhere, clock, "CARD-1")
    assert (decision.allowed, decision.code) == (False, "wrong_location")


# Every day 06:00–22:00 local time.
DAYTIME = [[day, 6 * 60, 22 * 60] for day in range(7)]


def test_outside_hours_across_the_spring_dst_change(org, location, clock):
    member, _ = join(org, location, clock, access_hours=DAYTIME)
    credential_issue(member=member, kind=CredentialKind.RFID, value="CARD-2", clock=clock)
    location.anti_passback_minutes = 0
    location.save(update_fields=["anti_passback_minutes"])
    # Saturday 28 March 2026, CET (UTC+1): 04:30 UTC is 05:30 local, before opening.
    clock.set(datetime(2026, 3, 28, 4, 30, tzinfo=UTC))
    assert scan(location, clock, "CARD-2").code == "outside_hours"
    clock.set(datetime(2026, 3, 28, 5, 0, tzinfo=UTC))
    assert scan(location, clock, "CARD-2").code == "membership"
    # Sunday 29 March, CEST (UTC+2) from 02:00 local: 04:30 UTC is 06:30 local.
    clock.set(datetime(2026, 3, 29, 4, 30, tzinfo=UTC))
    assert scan(location, clock, "CARD-2").code == "membership"
    clock.set(datetime(2026, 3, 29, 3, 59, tzinfo=UTC))
    assert scan(location, clock, "CARD-2").code == "outside_hours"
    # Closing at 22:00 CEST is 20:00 UTC.
    clock.set(datetime(2026, 3, 29, 19, 59, tzinfo=UTC))
    assert scan(location, clock, "CARD-2").code == "membership"
    clock.set(datetime(2026, 3, 29, 20, 0, tzinfo=UTC))
    decision = scan(location, clock, "CARD-2")
    assert (decision.allowed, decision.code) == (False, "outside_hours")
    assert decision.reason == "Your membership does not give entry at this time."


def test_hours_follow_the_locations_weekday_not_utcs(org, clock):
    west = make_location(org, tz="America/Los_Angeles", currency="USD", country="US")
    mondays = [[0, 0, 1440]]
    member, _ = join(org, west, clock, access_hours=mondays, currency="USD")
    credential_issue(member=member, kind=CredentialKind.RFID, value="CARD-3", clock=clock)
    # Tuesday 07:30 UTC is still Monday 23:30 in Los Angeles.
    clock.set(datetime(2026, 1, 20, 7, 30, tzinfo=UTC))
    assert scan(west, clock, "CARD-3").code == "membership"
    # Tuesday 08:00 UTC is Tuesday 00:00 there.
    clock.set(datetime(2026, 1, 20, 8, 0, tzinfo=UTC))
    assert scan(west, clock, "CARD-3").code == "outside_hours"


def test_the_furthest_refusal_is_the_one_shown(org, location, clock):
    """A cancelled old membership and a current one outside its hours: the member hears
    about the hours, not the old cancellation."""
    member, old = join(org, location, clock)
    subscription_cancel(sub=old, clock=clock, immediately=True)
    subscription_create(
        member=member,
        plan=make_plan(org, access_hours=[[0, 6 * 60, 7 * 60]]),
        location=location,
        start_date=d("2026-01-15"),
        clock=clock,
    )
    credential_issue(member=member, kind=CredentialKind.RFID, value="CARD-4", clock=clock)
    assert scan(location, clock, "CARD-4").code == "outside_hours"


def test_anti_passback_refuses_a_second_entry_within_the_window(org, location, clock, tag):
    assert location.anti_passback_minutes == 5
    assert scan(location, clock, "TAG-0001").code == "membership"
    clock.advance(timedelta(minutes=4, seconds=59))
    decision = scan(location, clock, "TAG-0001")
    assert (decision.allowed, decision.code) == (False, "anti_passback")
    # another location of the same organization is another door
    assert scan(make_location(org), clock, "TAG-0001").code == "membership"
    clock.advance(timedelta(seconds=1))
    assert scan(location, clock, "TAG-0001").code == "membership"


def test_visit_pack_is_used_once_per_entry(org, location, clock):
    location.anti_passback_minutes = 0
    location.save(update_fields=["anti_passback_minutes"])
    member = make_member(org, clock)
    addon = AddOn.objects.create(
        organization=org,
        name="3 visits",
        code="v3",
        kind="pack",
        currency="SEK",
        price=30000,
        sessions=3,
    )
    pack = visit_pack_grant(member=member, addon=addon, clock=clock)
    credential_issue(member=member, kind=CredentialKind.RFID, value="PACK-1", clock=clock)
    lefts = []
    for _ in range(3):
        decision = scan(location, clock, "PACK-1")
        assert (decision.allowed, decision.code, decision.visit_pack) == (True, "visit_pack", pack)
        lefts.append(decision.entries_left)
    assert lefts == [2, 1, 0]
    decision = scan(location, clock, "PACK-1")
    assert (decision.allowed, decision.code) == (False, "pack_exhausted")
    pack.refresh_from_db()
    assert pack.entries_used == 3
    assert list(
        AccessDecision.objects.order_by("id").values_list("visit_pack_id", "reason_code")
    ) == [(pack.pk, "visit_pack")] * 3 + [(None, "pack_exhausted")]


def test_a_preview_uses_no_visit_and_logs_nothing(org, location, clock):
    member = make_member(org, clock)
    visit_pack_grant(member=member, entries=1, clock=clock)
    decision = access_decide(location=location, clock=clock, member=member, record=False)
    assert (decision.allowed, decision.code, decision.entries_left) == (True, "visit_pack", 1)
    assert VisitPack.objects.get().entries_used == 0
    assert AccessDecision.objects.count() == 0


def test_expired_pack_and_no_membership(org, location, clock):
    member = make_member(org, clock)
    visit_pack_grant(
        member=member, entries=2, clock=clock, expires_at=clock.now() + timedelta(days=1)
    )
    credential_issue(member=member, kind=CredentialKind.RFID, value="PACK-2", clock=clock)
    clock.advance(timedelta(days=1))
    assert scan(location, clock, "PACK-2").code == "no_membership"


def test_the_last_visit_cannot_be_spent_twice(org, location, clock):
    """Two doors evaluated the same pack with one visit left; only one UPDATE wins."""
    member = make_member(org, clock)
    pack = visit_pack_grant(member=member, entries=1, clock=clock)
    first_view = VisitPack.objects.get(pk=pack.pk)
    second_view = VisitPack.objects.get(pk=pack.pk)
    assert _use_a_visit([first_view], clock.now())[0] == first_view
    assert _use_a_visit([second_view], clock.now()) == (None, None)
    pack.refresh_from_db()
    assert pack.entries_used == 1


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_scans_spend_a_pack_exactly(clock):
    """Eight threads at eight doors scan one member's 5-visit pack on PostgreSQL."""
    from concurrent.futures import ThreadPoolExecutor

    org = make_org(clock)
    doors = [make_location(org) for _ in range(8)]
    member = make_member(org, clock)
    pack = visit_pack_grant(member=member, entries=5, clock=clock)
    credential_issue(member=member, kind=CredentialKind.RFID, value="RACE-1", clock=clock)

    def at_door(door):
        try:
            return scan(door, clock, "RACE-1").code
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(at_door, doors))
    assert codes == ["pack_exhausted"] * 3 + ["visit_pack"] * 5
    pack.refresh_from_db()
    assert pack.entries_used == 5


def test_rotating_qr_code(org, location, clock, member):
    location.anti_passback_minutes = 0
    location.save(update_fields=["anti_passback_minutes"])
    credential = credential_issue(member=member, kind=CredentialKind.QR, clock=clock)
    secret = qr_secret(credential)
    clock.set(datetime(2026, 1, 20, 9, 0, 0, tzinfo=UTC))  # a step boundary
    shown = qr_payload(credential.value, secret, clock.now())
    assert len(shown) == 25
    clock.advance(timedelta(seconds=29))
    decision = scan(location, clock, shown)
    assert (decision.allowed, decision.code, decision.credential) == (
        True,
        "membership",
        credential,
    )
    assert AccessDecision.objects.get().qr_step == qr_step(datetime(2026, 1, 20, 9, tzinfo=UTC))
    # the same code again, even at once: used
    assert scan(location, clock, shown).code == "qr_reused"
    # a screenshot of the next code works until 30 s after it was first shown, not after
    assert STEP_SECONDS + SKEW_SECONDS == 30
    clock.set(datetime(2026, 1, 20, 9, tzinfo=UTC) + timedelta(seconds=STEP_SECONDS))
    screenshot = qr_payload(credential.value, secret, clock.now())
    clock.advance(timedelta(seconds=29))
    assert scan(location, clock, screenshot, record=False).code == "membership"
    clock.advance(timedelta(seconds=1))
    decision = scan(location, clock, screenshot)
    assert (decision.allowed, decision.code) == (False, "qr_expired")
    assert decision.reason == "This QR code has expired. Show the code in the app again."
    # within the 5 s drift allowance of the next step it still works
    start = datetime(2026, 1, 20, 9, tzinfo=UTC)
    clock.set(start + timedelta(seconds=2 * STEP_SECONDS + SKEW_SECONDS - 1))
    assert scan(location, clock, screenshot).code == "membership"
    # a forged code for a real id
    forged = credential.value + "." + "A" * 16
    assert scan(location, clock, forged).code == "qr_expired"
    assert scan(location, clock, "not-a-qr", kind="qr").code == "qr_invalid"


def test_a_new_qr_code_revokes_the_old_one(location, clock, member):
    old = credential_issue(member=member, kind=CredentialKind.QR, clock=clock)
    old_payload = qr_payload(old.value, qr_secret(old), clock.now())
    credential_issue(member=member, kind=CredentialKind.QR, clock=clock)
    assert scan(location, clock, old_payload).code == "revoked"


def test_staff_override_lets_in_and_logs_what_it_overrode(location, clock, sub, tag):
    staff = get_user_model().objects.create_user("desk", password="x")
    subscription_cancel(sub=sub, clock=clock, immediately=True)
    with pytest.raises(AccessError) as err:
        scan(location, clock, "TAG-0001", override_by=staff, override_reason="  ")
    assert err.value.errors == {"override_reason": "an override needs a reason"}
    decision = scan(location, clock, "TAG-0001", override_by=staff, override_reason="rejoining")
    assert (decision.allowed, decision.code, decision.refusal_code) == (
        True,
        "override",
        "cancelled",
    )
    row = AccessDecision.objects.get()
    assert (
        row.allowed,
        row.reason_code,
        row.refusal_code,
        row.override_by,
        row.override_reason,
    ) == (
        True,
        "override",
        "cancelled",
        staff,
        "rejoining",
    )


def test_reasons_are_in_the_locations_language(org, clock, sub, tag):
    for lang, text in [
        ("sv", "Ditt medlemskap är fryst."),
        ("fr", "Votre abonnement est suspendu."),
        ("zh-hans", "您的会籍已冻结。"),
        ("th", "สมาชิกภาพของคุณถูกระงับชั่วคราว"),
    ]:
        door = make_location(org)
        door.locale = lang
        door.save(update_fields=["locale"])
        sub.status = SubscriptionStatus.FROZEN
        sub.save(update_fields=["status"])
        assert scan(door, clock, "TAG-0001").reason == text
    # the log keeps the English sentence for staff, whatever the door's language
    assert set(AccessDecision.objects.values_list("reason", flat=True)) == {
        "Your membership is frozen."
    }


def test_bad_input_names_the_field(location, clock):
    with pytest.raises(AccessError) as err:
        scan(location, clock, "X", kind="nfc")
    assert err.value.errors == {"kind": "unknown credential kind 'nfc'; use qr, barcode or rfid"}
    with pytest.raises(AccessError) as err:
        access_decide(location=location, clock=clock)
    assert err.value.errors == {"value": "scan a credential or choose a member"}
