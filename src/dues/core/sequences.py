from __future__ import annotations

from dues.core.db import require_transaction
from dues.core.models import Sequence


def sequence_take(*, organization_id: int, name: str, count: int = 1) -> int:
    """Reserve ``count`` consecutive numbers and return the first.

    Must run inside the transaction that uses the numbers: the row lock serialises
    concurrent finalisations, and a rollback returns the numbers (no gaps).
    """
    require_transaction("taking sequence numbers")
    seq, _ = Sequence.objects.get_or_create(organization_id=organization_id, name=name)
    seq = Sequence.objects.select_for_update().get(pk=seq.pk)
    first = seq.next_value
    Sequence.objects.filter(pk=seq.pk).update(next_value=first + count)
    return first
