"""The accessibility checks themselves catch what they are for."""

from __future__ import annotations

import pytest

from tests.e2e.a11y import JS, check_page


@pytest.fixture
def blank(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()


def test_checks_find_unlabelled_inputs_and_low_contrast(blank):
    blank.set_content(
        '<p style="color:#aaa;background:#fff">faint</p><input name="x">'
        '<label for="y">Y</label><input id="y"><p style="color:#000">fine</p>'
    )
    assert len(blank.evaluate(JS["UNLABELLED"])) == 1
    assert [p.split('"')[1] for p in blank.evaluate(JS["LOW_CONTRAST"])] == ["faint"]
    with pytest.raises(AssertionError, match="without a label"):
        check_page(blank)


def test_checks_pass_a_plain_accessible_page(blank):
    blank.set_content('<label for="e">Email</label><input id="e"><button>Go</button>')
    check_page(blank)
