"""A read-only SQLite historian opens whatever the path looks like (dashboards and `twin history` use it)."""

from __future__ import annotations

import pytest

from twin.codec import Reading
from twin.historian import open_historian

TS = 1_795_000_000_000


@pytest.mark.parametrize("dirname", ["plain", "with space", "q?mark", "hash#dir", "pct%20dir", "uni-공단"])
@pytest.mark.parametrize("slashes", ["sqlite://", "sqlite:///"])  # sqlite:////abs is an absolute path too
def test_read_only_open_of_any_path(tmp_path, dirname, slashes):
    d = tmp_path / dirname
    d.mkdir()
    with open_historian(f"sqlite://{d / 'h.db'}") as h:
        h.store([Reading("a", TS, 1.0)])
    with open_historian(f"{slashes}{d / 'h.db'}", readonly=True) as h:
        assert h.counts() == {"a": 1}
        assert [r.value for r in h.query(["a"], TS, TS + 1)] == [1.0]
