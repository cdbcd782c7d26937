"""The on-disk spool: durable appends, torn tails ignored, size limit enforced."""

from __future__ import annotations

import pytest

from twin.codec import Reading
from twin.historian.base import DeadLetter
from twin.ingest.spool import Spool, SpoolFull


def _batch(n: int, start: int = 0) -> list[Reading]:
    return [Reading("s1", start + i, float(i)) for i in range(n)]


def test_append_and_read_back_in_order(tmp_path):
    sp = Spool(tmp_path, max_bytes=10**6)
    letter = DeadLetter(5, "t/x", b"\x00\xffraw", "malformed_json", "bad", None)
    sp.append(_batch(3), [letter])
    sp.append(_batch(2, 100))
    path, records = sp.oldest()
    assert [r for r, _ in records] == [_batch(3), _batch(2, 100)]
    assert records[0][1] == [letter]
    sp.remove(path)
    assert not sp and sp.bytes == 0


def test_survives_restart(tmp_path):
    Spool(tmp_path).append(_batch(4))
    again = Spool(tmp_path)
    assert again.bytes > 0
    _, records = again.oldest()
    assert records[0][0] == _batch(4)


def test_torn_tail_is_ignored(tmp_path):
    sp = Spool(tmp_path)
    sp.append(_batch(2))
    sp.append(_batch(2, 10))
    seg = next(tmp_path.glob("*.seg"))
    data = seg.read_bytes()
    seg.write_bytes(data[:-5])  # a crash in the middle of the second append
    _, records = Spool(tmp_path).oldest()
    assert [r for r, _ in records] == [_batch(2)]


def test_full_spool_refuses_and_keeps_what_it_has(tmp_path):
    sp = Spool(tmp_path, max_bytes=400)
    sp.append(_batch(3))
    with pytest.raises(SpoolFull):
        sp.append(_batch(50))
    _, records = sp.oldest()
    assert [r for r, _ in records] == [_batch(3)]


def test_rejects_a_nonsense_limit(tmp_path):
    with pytest.raises(ValueError, match="max_bytes"):
        Spool(tmp_path, max_bytes=0)
