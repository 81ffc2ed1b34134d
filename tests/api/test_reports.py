"""Reports through the API: recovery by month and decline code, open arrears; query
errors name the parameter; only the caller's organization is reported."""

from __future__ import annotations

import pytest

from dues.ops.jobs import bill
from tests.api.conftest import authed_client
from tests.factories import LOST_CARD, d, join

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed(org, location, clock, gateway):
    member, _ = join(org, location, clock, LOST_CARD)
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    return member


def test_recovery_and_arrears(api, failed):
    rows = api.get("/api/v1/reports/recovery/?from=2026-01&to=2026-02").json()
    assert len(rows) == 1
    row = rows[0]
    assert (row["month"], row["decline_code"], row["failed_invoices"]) == (
        "2026-01",
        "lost_card",
        1,
    )
    assert row["recovered_amount"] == 0
    assert row["recovery_rate"] == "0.0000"
    totals = api.get("/api/v1/reports/recovery/?from=2026-01&to=2026-01&totals=true").json()
    assert [r["decline_code"] for r in totals] == ["*"]

    arrears = api.get("/api/v1/reports/arrears/?as_of=2026-03-01").json()
    assert arrears["as_of"] == "2026-03-01"
    assert [(b["bucket"], b["invoices"]) for b in arrears["buckets"]] == [("31-60", 1)]
    (payer,) = arrears["payers"]
    assert (payer["payer_id"], payer["days_overdue"], payer["in_dunning"]) == (failed.pk, 45, True)


@pytest.mark.parametrize(
    ("url", "field", "message"),
    [
        ("/api/v1/reports/recovery/?from=2026-13", "from", "does not match"),
        ("/api/v1/reports/recovery/?to=January", "to", "does not match"),
        ("/api/v1/reports/recovery/?from=2026-03&to=2026-01", "from", "must not be after"),
        ("/api/v1/reports/arrears/?as_of=yesterday", "as_of", "Date has wrong format"),
    ],
)
def test_bad_queries_name_the_parameter(api, url, field, message):
    resp = api.get(url)
    assert resp.status_code == 400
    assert message in str(resp.json()["error"]["fields"][field])


def test_another_organization_sees_nothing_of_ours(failed, other_org, clock):
    rival = authed_client(other_org, clock)
    assert rival.get("/api/v1/reports/recovery/?from=2026-01&to=2026-01").json() == []
    assert rival.get("/api/v1/reports/arrears/?as_of=2026-03-01").json()["payers"] == []
