"""Keys that let staff find a member fast by a prefix of what they type.

``Member.save`` keeps them in step with the name, email and phone they are made from (an
index on each serves a prefix match; ``dues.staff.selectors.member_search`` asks them).
Rows inserted with ``bulk_create`` skip ``save``: set their keys with ``search_keys``.
"""

from __future__ import annotations

import unicodedata

# The fields the keys are made from, and the keys.
SEARCH_SOURCE_FIELDS = frozenset({"first_name", "last_name", "email", "phone"})
SEARCH_KEY_FIELDS = ("search_name", "search_name_reversed", "search_email", "search_phone")


def search_fold(text: str) -> str:
    """Lower case, accents taken off Latin letters, spaces collapsed: "  Åsa  Öberg" →
    "asa oberg". Marks on other scripts (Thai vowels, say) are kept: they are letters."""
    kept: list[str] = []
    for ch in unicodedata.normalize("NFKD", text.casefold()):
        if unicodedata.combining(ch) and kept and kept[-1] < "\u0250":
            continue
        kept.append(ch)
    return " ".join(unicodedata.normalize("NFC", "".join(kept)).split())


def phone_key(phone: str) -> str:
    """The digits of a phone number, last digit first. A number ends the same however its
    start was written (+46 70…, 0046 70…, 070…), so a prefix of this finds it by its end."""
    return "".join(ch for ch in phone if ch in "0123456789")[::-1]


def search_keys(*, first_name: str, last_name: str, email: str, phone: str) -> dict[str, str]:
    first, last = search_fold(first_name), search_fold(last_name)
    return {
        "search_name": f"{first} {last}".strip(),
        "search_name_reversed": f"{last} {first}".strip(),
        "search_email": email.strip().casefold(),
        "search_phone": phone_key(phone),
    }
