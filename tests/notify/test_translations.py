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
        # A plural entry holds (singular, plural) ids and one string per plural form.
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        assert all(strings), f"{po}: no translation for {m.id!r}"
        assert "fuzzy" not in m.flags, f"{po}: fuzzy translation for {m.id!r}"
        want = sorted(PLACEHOLDER.findall(ids[-1]))
        for text in strings:
            assert sorted(PLACEHOLDER.findall(text)) == want, m.id
    with po.with_suffix(".mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    for m in entries:
        if isinstance(m.id, tuple):
            forms = compiled.plural  # type: ignore[attr-defined]
            for n in (1, 2, 5):
                got = compiled.ngettext(m.id[0], m.id[1], n)
                assert got == m.string[forms(n)], f"{po}: .mo is stale; run compilemessages"
        else:
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
                    # A counted block marks its singular and its plural.
                    for part in found.split("{% plural %}"):
                        marked.add(re.sub(r"\{\{ (\w+) \}\}", r"%(\1)s", part))
            elif path.suffix == ".py":
                text = path.read_text(encoding="utf-8")
                marked.update(re.findall(r'\b_\(\s*"([^"]+)"\s*\)', text))
        assert marked, app
        for po in CATALOGUES:
            if po.parents[3].name != app:
                continue
            with po.open("rb") as f:
                ids: set[str] = set()
                for m in read_po(f):
                    ids.update(m.id if isinstance(m.id, tuple) else (m.id,) if m.id else ())
            missing = marked - ids
            assert not missing, f"{po}: {sorted(missing)}"
