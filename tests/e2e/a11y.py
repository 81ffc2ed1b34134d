"""Basic accessibility checks run in the page: every form control has a label, every
interactive element is reachable with the Tab key, and text contrast meets WCAG AA. The
page-side functions are in ``a11y.js``, one after each ``// NAME`` line."""

from __future__ import annotations

import re
from pathlib import Path

_SOURCE = (Path(__file__).parent / "a11y.js").read_text(encoding="utf-8")
JS = dict(re.findall(r"^// ([A-Z_]+)\n(.*?)(?=^// [A-Z_]+\n|\Z)", _SOURCE, re.M | re.S))


def check_page(page) -> None:
    """Fails with what is wrong: unlabelled controls, low contrast, unreachable controls."""
    assert page.evaluate(JS["UNLABELLED"]) == [], "form controls without a label"
    assert page.evaluate(JS["LOW_CONTRAST"]) == [], "text below WCAG AA contrast"
    targets = page.evaluate(JS["FOCUSABLE"])
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    reached = set()
    for _ in range(targets + 5):
        page.keyboard.press("Tab")
        reached.add(
            page.evaluate(
                """() => { const el = document.activeElement;
                  return el && el !== document.body ? el.outerHTML.slice(0, 120) : null; }"""
            )
        )
    reached.discard(None)
    assert len(reached) >= targets, f"only {len(reached)} of {targets} controls reachable by Tab"
