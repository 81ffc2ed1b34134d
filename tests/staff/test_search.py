"""Member search: what it finds, that it stays in the organization, that the keys follow
the member's details, and that it asks an index (no scan of the members table)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import connection

from dues.access.models import CredentialKind
from dues.access.services import credential_issue, credential_revoke
from dues.members.models import Member
from dues.members.search import search_keys
from dues.members.services import member_update
from dues.staff.selectors import member_search
from tests.factories import make_member, make_org

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(org, clock):
    return {
        "anna": make_member(
            org,
            clock,
            first_name="Anna",
            last_name="Lindqvist",
            email="anna.l@example.se",
            phone="+46 70 123 45 67",
        ),
        "asa": make_member(
            org,
            clock,
            first_name="Åsa",
            last_name="Öberg",
            email="asa@example.se",
            phone="070-765 43 21",
        ),
        "annika": make_member(
            org, clock, first_name="Annika", last_name="Berg", email="annika@example.se"
        ),
        "lind": make_member(
            org, clock, first_name="Lars", last_name="Lind", email="lars@example.se"
        ),
    }


def names(org, query: str, **kw) -> list[str]:
    found = member_search(organization_id=org.pk, query=query, **kw)
    return [m.first_name for m in found]


def test_by_name_in_any_order_ignoring_case_and_accents(org, people):
    assert names(org, "ann") == ["Annika", "Anna"]  # by last name: Berg, Lindqvist
    assert names(org, "lind") == ["Lars", "Anna"]
    assert names(org, "Anna Lind") == ["Anna"]
    assert names(org, "lindqvist anna") == ["Anna"]
    assert names(org, "lind ann") == ["Anna"]
    assert names(org, "ann lind") == ["Anna"]
    assert names(org, "an be") == ["Annika"]
    assert names(org, "asa ob") == ["Åsa"]
    assert names(org, "ÖBERG") == ["Åsa"]
    assert names(org, "berg") == ["Annika"]  # a prefix, not anywhere in the name
    assert names(org, "zed") == []
    assert names(org, "   ") == []


def test_by_email_phone_and_member_number(org, people):
    assert names(org, "anna.l@ex") == ["Anna"]
    assert names(org, "ASA@") == ["Åsa"]
    assert names(org, "lars") == ["Lars"]  # a first name and an email start alike
    assert names(org, "0701234567") == ["Anna"]
    assert names(org, "+46701234567") == ["Anna"]
    assert names(org, "4567") == ["Anna"]  # the last digits
    assert names(org, "+46 70 765 43 21") == ["Åsa"]
    number = people["annika"].member_number
    assert names(org, number) == ["Annika"]
    assert names(org, number.lower()) == ["Annika"]
    assert names(org, str(people["annika"].pk)) == ["Annika"]


def test_by_key_tag_or_rfid_card_in_use_or_revoked(org, clock, people):
    anna, asa = people["anna"], people["asa"]
    tag = credential_issue(member=anna, kind=CredentialKind.BARCODE, value="TAG-0042", clock=clock)
    credential_issue(member=asa, kind=CredentialKind.RFID, value="04A1B2C3", clock=clock)
    assert [m.pk for m in member_search(organization_id=org.pk, query="TAG-0042")] == [anna.pk]
    assert [m.pk for m in member_search(organization_id=org.pk, query=" 04A1B2C3 ")] == [asa.pk]
    credential_revoke(credential=tag, clock=clock, reason="lost")
    assert [m.pk for m in member_search(organization_id=org.pk, query="TAG-0042")] == [anna.pk]
    other = make_org(clock)
    assert member_search(organization_id=other.pk, query="TAG-0042") == []
    assert member_search(organization_id=org.pk, query="TAG-004") == []  # whole numbers only


def test_only_the_organizations_members_and_at_most_the_limit(org, clock, people):
    other = make_org(clock)
    make_member(other, clock, first_name="Anna", last_name="Elsewhere")
    assert "Elsewhere" not in [
        m.last_name for m in member_search(organization_id=org.pk, query="anna")
    ]
    for n in range(30):
        make_member(org, clock, first_name="Bo", last_name=f"Many{n:02d}")
    assert len(names(org, "bo")) == 25
    assert len(names(org, "bo", limit=5)) == 5


def test_keys_follow_changes_however_the_member_is_saved(org, clock, people):
    anna = people["anna"]
    member_update(member=anna, clock=clock, last_name="Ström", phone="08 123 99 88")
    assert names(org, "strom") == ["Anna"]
    assert names(org, "lindqvist") == []
    assert names(org, "239988") == ["Anna"]
    anna.first_name = "Annie"  # a plain save (the admin's) keeps them too
    anna.save()
    assert names(org, "annie str") == ["Annie"]


def test_the_migration_fills_existing_rows(org, people):
    Member.objects.update(search_name="", search_name_reversed="", search_email="", search_phone="")
    assert names(org, "anna") == []
    migration = importlib.import_module("dues.members.migrations.0004_member_search")
    migration.fill_search_keys(apps, connection.schema_editor())
    assert names(org, "ann") == ["Annika", "Anna"]
    assert names(org, "4567") == ["Anna"]


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("anna", "member_search_name_idx"),
        ("lindqvist anna", "member_search_name_rev_idx"),
        ("anna@", "member_search_email_idx"),
        ("0701234567", "member_search_phone_idx"),
        ("M000123", "member_number_idx"),
    ],
)
def test_search_uses_the_indexes(org, people, clock, query, index):
    if connection.vendor == "postgresql":
        # PostgreSQL picks among indexes by statistics: give it a gym's worth of members
        # and fresh statistics, as a live database has, or any index on the organization
        # looks as good as the right one on a near-empty table.
        Member.objects.bulk_create(
            Member(
                organization=org,
                first_name=f"Filler{i}",
                last_name=f"Person{i}",
                email=f"filler{i}@example.net",
                phone=f"+4673{i:07d}",
                member_number=f"F{i:06d}",
                created_at=clock.now(),
                **search_keys(
                    first_name=f"Filler{i}",
                    last_name=f"Person{i}",
                    email=f"filler{i}@example.net",
                    phone=f"+4673{i:07d}",
                ),
            )
            for i in range(5000)
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE members_member")
    plans: list[str] = []

    def explain(execute, sql, params, many, context):
        if "members_member" in sql and sql.lstrip().upper().startswith("SELECT"):
            with connection.cursor() as cursor:
                prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
                cursor.execute(prefix + sql, params)
                plans.append(" ".join(str(part) for row in cursor.fetchall() for part in row))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(explain):
        member_search(organization_id=org.pk, query=query)
    assert 1 <= len(plans) <= 4  # a few small queries, one per key
    assert any(index in plan for plan in plans), plans
    if connection.vendor == "sqlite":
        assert not any("SCAN members_member" in plan for plan in plans), plans
