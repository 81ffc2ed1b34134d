"""Every member-facing string is translated into every language we speak, keeps its
placeholders, and the compiled catalogue (.mo) matches its source (.po)."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings

import dues

SRC = Path(dues.__file__).parent
CATALOGUES = sorted(SRC.glob("*/locale/*/LC_MESSAGES/django.po"))
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def test_every_app_with_member_text_has_all_languages():
    apps = {po.parents[3].name for po in CATALOGUES}
    assert "notify" in apps
    want = {code.replace("zh-hans", "zh_Hans") for code, _ in settings.LANGUAGES} - {"en"}
    for app in apps:
        have = {po.parents[1].name for po in CATALOGUES if po.parents[3].name == app}
        assert have == want, app


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: f"{p.parents[3].name}-{p.parents[1].name}")
def test_catalogue_is_complete_and_compiled(po: Path):
    with po.open("rb") as f:
        catalogue = read_po(f)
    entries = [m for m in catalogue if m.id]
    assert entries
    for m in entries:
        assert m.string, f"{po}: no translation for {m.id!r}"
        assert "fuzzy" not in m.flags, f"{po}: fuzzy translation for {m.id!r}"
        assert sorted(PLACEHOLDER.findall(m.string)) == sorted(PLACEHOLDER.findall(m.id)), m.id
    with po.with_suffix(".mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    for m in entries:
        assert compiled.gettext(m.id) == m.string, f"{po}: .mo is stale; run compilemessages"


def test_source_strings_are_all_in_the_catalogues():
    """A string marked in a template or module but missing from the .po (makemessages not
    run) would reach members in English."""
    for app in sorted({po.parents[3].name for po in CATALOGUES}):
        marked: set[str] = set()
        for path in (SRC / app).rglob("*"):
            if path.suffix in (".txt", ".html"):
                text = path.read_text(encoding="utf-8")
                marked.update(re.findall(r'\{% translate "([^"]+)"', text))
                for found in re.findall(
                    r"\{% blocktranslate[^%]*%\}(.+?)\{% endblocktranslate %\}", text
                ):
                    marked.add(re.sub(r"\{\{ (\w+) \}\}", r"%(\1)s", found))
            elif path.suffix == ".py":
                text = path.read_text(encoding="utf-8")
                marked.update(re.findall(r'\b_\(\s*"([^"]+)"\s*\)', text))
        assert marked, app
        for po in CATALOGUES:
            if po.parents[3].name != app:
                continue
            with po.open("rb") as f:
                ids = {m.id for m in read_po(f) if m.id}
            missing = marked - ids
            assert not missing, f"{po}: {sorted(missing)}"
