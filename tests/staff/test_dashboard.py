"""The staff dashboard: the figures for a manager (exact amounts), 403 for the front desk
and trainers, home sending each role to its page, and the charts: inline SVG with a
summary for screen readers and the same numbers in a table."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import translation

from dues.ops.jobs import bill
from dues.staff.charts import Series, bar_chart, line_chart, money_unit, nice_ticks
from dues.staff.roles import Role
from dues.staff.views.dashboard import _change
from tests.factories import LOST_CARD, VISA_OK, d, join, make_location, make_org
from tests.staff.conftest import client_for, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def january(org, location, account, staff_clock, gateway):
    """Anna paid 499.00 on 15 January; Bo's lost card failed for his 499.00 the same day.
    The page is read on 31 January."""
    bo, _sub = join(
        org, location, staff_clock, LOST_CARD, member_kw={"first_name": "Bo", "last_name": "Ek"}
    )
    bill(as_of=d("2026-01-15"), clock=staff_clock, gateway=gateway)
    staff_clock.set(datetime(2026, 1, 31, 12, tzinfo=UTC))
    return {"anna": account.member, "bo": bo}


def page(client) -> str:
    response = client.get(reverse("staff-dashboard"))
    assert response.status_code == 200, response.content.decode()[:2000]
    return response.content.decode().replace("\xa0", " ")


def test_a_manager_sees_this_months_figures(org, january, staff_clock):
    manager = make_staff(org, Role.MANAGER, staff_clock, device=True)
    html = page(client_for(manager, org))
    cards = html[html.index('<ul class="kpis">') : html.index("</ul>", html.index("kpis"))]
    # Revenue: both invoices, net of 6% VAT (470.75 each); collected: Anna's payment.
    assert "SEK941.50" in cards
    assert "Up SEK941.50 on December 2025" in cards
    assert "SEK499.00" in cards
    # MRR: two monthly memberships (Bo's is in dunning but not ended).
    assert "SEK998.00" in cards
    assert "Up SEK998.00 since the end of December 2025" in cards
    started = re.search(r'<strong class="figure">(\d+)</strong> <span class="muted">started', cards)
    ended = re.search(r'<strong class="figure">(\d+)</strong> <span class="muted">ended', cards)
    assert started
    assert ended
    assert (started.group(1), ended.group(1)) == ("2", "0")
    assert "invoices whose first charge failed" in cards
    assert "recovered since (0.0%)" in cards
    # Arrears: Bo's invoice, 16 days overdue, with a link to his profile.
    assert "1 overdue invoice<" in cards
    bo = january["bo"]
    assert f'href="{reverse("staff-member", args=[bo.pk])}">Bo Ek</a>' in html
    assert "16 days overdue" in html
    assert "Anna" not in html  # she owes nothing


def test_the_charts_are_svg_with_a_summary_and_a_table(org, january, staff_clock):
    owner = make_staff(org, Role.OWNER, staff_clock, device=True)
    html = page(client_for(owner, org))
    svgs = re.findall(
        r'<svg viewBox="0 0 560 300" width="100%" role="img" aria-label="([^"]+)"', html
    )
    # revenue, MRR, memberships, failed payments, arrears (one currency)
    assert len(svgs) == 5
    revenue = next(s for s in svgs if s.startswith("Revenue by month"))
    assert "Revenue, January 2025 to January 2026: latest SEK941.50 (January 2026)" in revenue
    assert "<script" not in html
    assert html.count("<figure") == html.count("<figcaption>") == 5
    assert html.count("<details>") == 5
    # The revenue table has every month and the amount.
    table = html[html.index("Revenue by month") :]
    table = table[table.index("<table>") : table.index("</table>")]
    assert table.count('<th scope="row">') == 13
    assert '<th scope="row">January 2026</th><td class="amount">SEK941.50</td>' in table
    assert '<th scope="row">December 2025</th><td class="amount">SEK0.00</td>' in table
    # Two-series charts name their series in a legend (not colour alone).
    assert html.count('<ul class="legend">') == 2
    for name in ("Started", "Ended", "Failed", "Recovered since"):
        assert f"</svg> {name}</li>" in html


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.TRAINER])
def test_front_desk_and_trainers_get_403(org, january, staff_clock, role):
    user = make_staff(org, role, staff_clock, device=True)
    client = client_for(user, org)
    response = client.get(reverse("staff-dashboard"))
    assert response.status_code == 403
    assert "SEK" not in response.content.decode()
    search = client.get(reverse("staff-members")).content.decode()
    assert reverse("staff-dashboard") not in search  # no link to it either


@pytest.mark.parametrize(
    ("role", "target"),
    [
        (Role.OWNER, "staff-dashboard"),
        (Role.MANAGER, "staff-dashboard"),
        (Role.FRONT_DESK, "staff-members"),
        (Role.TRAINER, "staff-members"),
    ],
)
def test_home_sends_each_role_to_its_page(org, staff_clock, role, target):
    user = make_staff(org, role, staff_clock, device=True)
    response = client_for(user, org).get(reverse("staff-home"))
    assert response.status_code == 302
    assert response["Location"] == reverse(target)


def test_the_nav_links_to_the_dashboard_for_managers(org, staff_clock):
    manager = make_staff(org, Role.MANAGER, staff_clock, device=True)
    html = client_for(manager, org).get(reverse("staff-members")).content.decode()
    assert f'<li><a href="{reverse("staff-dashboard")}">Dashboard</a></li>' in html


def test_signed_out_goes_to_sign_in(client):
    response = client.get(reverse("staff-dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("staff-login"))


def test_only_the_organizations_own_figures(org, january, staff_clock, gateway):
    other = make_org(staff_clock)
    there = make_location(other, currency="EUR", tz="Europe/Paris", country="FR")
    join(other, there, staff_clock, LOST_CARD, currency="EUR", price=9900)
    join(other, there, staff_clock, VISA_OK, currency="EUR", price=7700)
    manager = make_staff(org, Role.MANAGER, staff_clock, device=True)
    html = page(client_for(manager, org))
    assert "EUR" not in html
    assert "€" not in html
    assert "SEK998.00" in html


def test_swedish_formatting(org, january, staff_clock):
    manager = make_staff(org, Role.MANAGER, staff_clock, device=True)
    client = client_for(manager, org)
    response = client.get(reverse("staff-dashboard"), HTTP_ACCEPT_LANGUAGE="sv")
    html = response.content.decode().replace("\xa0", " ")
    assert "941,50 kr" in html
    assert "januari 2026" in html


# The chart helper on its own.


def test_nice_ticks():
    assert nice_ticks(0, 94150, unit=100) == [0, 50000, 100000]
    assert nice_ticks(0, 480000, unit=100) == [0, 200000, 400000, 600000]
    assert nice_ticks(0, 7) == [0, 2, 4, 6, 8]
    assert nice_ticks(0, 0, unit=100) == [0, 100]
    assert nice_ticks(-300, 900, unit=100) == [-500, 0, 500, 1000]
    assert nice_ticks(0, 3, unit=100) == [0, 100]
    assert (money_unit("SEK"), money_unit("JPY")) == (100, 1)


def test_bar_chart_escapes_labels_and_checks_series():
    chart = bar_chart(
        uid="t",
        title="<Title>",
        heading="Month",
        series=[Series("A & B", [("<x>", 3), ("y", -1)])],
        fmt=str,
    )
    assert "<x>" not in chart.svg
    assert "&lt;x&gt;" in chart.svg
    assert 'aria-label="&lt;Title&gt;. A &amp; B, &lt;x&gt; to y: latest -1 (y)' in chart.svg
    assert chart.rows == [("<x>", ["3"]), ("y", ["-1"])]
    assert chart.legend == []
    with pytest.raises(ValueError, match="same labels"):
        bar_chart(
            uid="t",
            title="t",
            heading="h",
            series=[Series("a", [("x", 1)]), Series("b", [("z", 1)])],
            fmt=str,
        )
    with pytest.raises(ValueError, match="at least one series"):
        line_chart(uid="t", title="t", heading="h", series=[], fmt=str)


def test_line_chart_points_and_latest_value():
    chart = line_chart(
        uid="m",
        title="MRR",
        heading="Day",
        series=[Series("MRR", [("a", 0), ("b", 50), ("c", 100)])],
        fmt=lambda v: f"{v} kr",
    )
    assert chart.svg.count("<circle") == 3
    assert ">100 kr</text>" in chart.svg
    assert 'viewBox="0 0 560 300" width="100%"' in chart.svg


@translation.override("en")
def test_changes_are_written_in_words():
    assert _change(11000, 10000, str, "May 2026") == "Up 1000 (10.0%) on May 2026"
    assert _change(9000, 10000, str, "May 2026") == "Down 1000 (10.0%) on May 2026"
    assert _change(500, 0, str, "May 2026") == "Up 500 on May 2026"  # no share of nothing
    assert _change(7, 7, str, "May 2026") == "Same as May 2026"
    assert _change(0, 7, str, "May 2026", since_end=True) == (
        "Down 7 (100.0%) since the end of May 2026"
    )
