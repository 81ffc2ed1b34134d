"""Marketing consent: an append-only history per channel, who changed it, when (the
injected clock), from where and under which wording; the current state is the latest
change, and no change at all means no consent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from dues.members.models import ConsentChange
from dues.members.selectors import consent_current, consent_granted_members, consent_history
from dues.members.services import consent_set
from tests.factories import make_member, make_org

pytestmark = pytest.mark.django_db


def history(member) -> list[tuple]:
    return [
        (
            c.channel,
            c.granted,
            c.source,
            c.changed_by,
            c.ip_address,
            c.wording_version,
            c.changed_at,
        )
        for c in consent_history(member)
    ]


def test_no_answer_means_no_consent(org, clock):
    member = make_member(org, clock)
    assert consent_current(member) == {"email": False, "sms": False}
    assert list(consent_granted_members(organization_id=org.pk, channel="email")) == []
    assert history(member) == []


def test_changes_are_recorded_and_the_latest_one_counts(org, clock):
    member = make_member(org, clock)
    joined_at = clock.now()
    written = consent_set(
        member=member,
        granted={"email": True, "sms": False},
        source="join",
        wording_version="join-2026-01",
        language="sv",
        ip_address="192.0.2.7",
        clock=clock,
    )
    # SMS was already "no": only the email answer is a change.
    assert [(c.channel, c.granted) for c in written] == [("email", True)]
    assert written[0].language == "sv"
    assert consent_current(member) == {"email": True, "sms": False}

    clock.advance(timedelta(days=3))
    again = consent_set(
        member=member,
        granted={"email": True, "sms": False},
        source="portal",
        wording_version="portal-settings-2026-11",
        ip_address="198.51.100.4",
        clock=clock,
    )
    assert again == []  # the same answer adds nothing

    clock.advance(timedelta(days=2))
    portal_at = clock.now()
    consent_set(
        member=member,
        granted={"email": False, "sms": True},
        source="portal",
        wording_version="portal-settings-2026-11",
        ip_address="2001:db8::1",
        clock=clock,
    )
    clock.advance(timedelta(hours=1))
    staff_at = clock.now()
    consent_set(
        member=member,
        granted={"sms": False},
        source="staff",
        changed_by="frontdesk-kim",
        wording_version="paper-2026",
        clock=clock,
    )
    assert consent_current(member) == {"email": False, "sms": False}
    assert history(member) == [
        ("email", True, "join", "", "192.0.2.7", "join-2026-01", joined_at),
        ("email", False, "portal", "", "2001:db8::1", "portal-settings-2026-11", portal_at),
        ("sms", True, "portal", "", "2001:db8::1", "portal-settings-2026-11", portal_at),
        ("sms", False, "staff", "frontdesk-kim", None, "paper-2026", staff_at),
    ]


def test_two_changes_at_the_same_instant_the_later_row_counts(org, clock):
    member = make_member(org, clock)
    for granted in (True, False, True):
        consent_set(
            member=member,
            granted={"email": granted},
            source="staff",
            changed_by="kim",
            wording_version="paper-2026",
            clock=clock,
        )
    assert [c.granted for c in consent_history(member)] == [True, False, True]
    assert consent_current(member)["email"] is True
    assert list(consent_granted_members(organization_id=org.pk, channel="email")) == [member]


def test_campaign_audience_is_the_current_consent_on_that_channel_in_that_gym(org, clock):
    other_gym = make_org(clock)

    def answer(member, **granted):
        consent_set(
            member=member,
            granted=granted,
            source="portal",
            wording_version="v1",
            ip_address="192.0.2.1",
            clock=clock,
        )

    yes = make_member(org, clock, first_name="Yes")
    answer(yes, email=True, sms=True)
    withdrew = make_member(org, clock, first_name="Withdrew")
    answer(withdrew, email=True)
    clock.advance(timedelta(minutes=1))
    answer(withdrew, email=False)
    sms_only = make_member(org, clock, first_name="SmsOnly")
    answer(sms_only, sms=True)
    make_member(org, clock, first_name="Never")
    elsewhere = make_member(other_gym, clock, first_name="Elsewhere")
    answer(elsewhere, email=True)

    def names(channel):
        found = consent_granted_members(organization_id=org.pk, channel=channel)
        return sorted(m.first_name for m in found)

    assert names("email") == ["Yes"]
    assert names("sms") == ["SmsOnly", "Yes"]
    with pytest.raises(ValueError, match="unknown channel 'in_app'"):
        consent_granted_members(organization_id=org.pk, channel="in_app")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"granted": {"post": True}}, "channel"),
        ({"granted": {"email": "yes"}}, "granted"),
        ({"source": "import"}, "source"),
        ({"wording_version": "  "}, "wording_version"),
        ({"ip_address": None}, "ip_address"),  # the portal records where the change came from
        ({"ip_address": "not-an-ip"}, "ip_address"),
        ({"source": "staff", "changed_by": ""}, "changed_by"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(org, clock, kwargs, field):
    member = make_member(org, clock)
    args = {
        "member": member,
        "granted": {"email": True},
        "source": "portal",
        "wording_version": "v1",
        "ip_address": "192.0.2.1",
        "clock": clock,
    } | kwargs
    with pytest.raises(ValidationError) as raised:
        consent_set(**args)
    assert list(raised.value.message_dict) == [field]
    assert not ConsentChange.objects.exists()


def test_history_rows_cannot_be_changed_or_deleted(org, clock):
    member = make_member(org, clock)
    [row] = consent_set(
        member=member,
        granted={"email": True},
        source="join",
        wording_version="v1",
        clock=clock,
    )
    row.granted = False
    with pytest.raises(ValueError, match="append-only"):
        row.save()
    with pytest.raises(ValueError, match="append-only"):
        row.delete()
    assert consent_current(member) == {"email": True, "sms": False}
