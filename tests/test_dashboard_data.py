"""The dashboards' historian handle: lazy, per process, and recovering once data appears."""

from __future__ import annotations

from pathlib import Path

import pytest

import dashboards.data as data_module
from dashboards.data import HistorianSource
from twin.codec import Reading
from twin.errors import HistorianUnavailable
from twin.historian import open_historian
from twin.timespec import now_ms

T0 = (now_ms() - 60_000) // 20_000 * 20_000  # recent (retention drops old data), window-aligned


def _url(path: Path) -> str:
    return "sqlite://" + str(path)


def test_creating_a_source_opens_nothing(tmp_path: Path) -> None:
    opened: list[str] = []

    def opener(url: str, readonly: bool = False):  # type: ignore[no-untyped-def]
        opened.append(url)
        return open_historian(url, readonly=readonly)

    src = HistorianSource(_url(tmp_path / "h.db"), opener=opener)
    assert opened == []
    assert not (tmp_path / "h.db").exists()
    with pytest.raises(HistorianUnavailable):
        src.latest(["a"])
    assert len(opened) == 1


def test_source_recovers_when_ingest_creates_the_store_later(tmp_path: Path) -> None:
    url = _url(tmp_path / "h.db")
    src = HistorianSource(url)
    with pytest.raises(HistorianUnavailable):
        src.latest(["a"])
    with open_historian(url) as h:
        h.store([Reading("a", T0, 1.5), Reading("a", T0 + 1000, 2.5)])
    assert src.latest(["a"]) == {"a": Reading("a", T0 + 1000, 2.5)}
    windows = src.windows(["a"], T0, T0 + 20_000, 20_000)
    assert [(w.count, w.min, w.max) for w in windows] == [(2, 1.5, 2.5)]
    src.close()


def test_source_sees_new_readings_without_reopening(tmp_path: Path) -> None:
    url = _url(tmp_path / "h.db")
    opened = 0

    def opener(u: str, readonly: bool = False):  # type: ignore[no-untyped-def]
        nonlocal opened
        opened += 1
        return open_historian(u, readonly=readonly)

    with open_historian(url) as writer:
        writer.store([Reading("a", T0, 1.0)])
        src = HistorianSource(url, opener=opener)
        assert src.latest(["a"])["a"].value == 1.0
        writer.store([Reading("a", T0 + 1000, 2.0)])
        assert src.latest(["a"])["a"].value == 2.0
    assert opened == 1
    src.close()


def test_a_forked_worker_opens_its_own_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _url(tmp_path / "h.db")
    with open_historian(url) as h:
        h.store([Reading("a", T0, 1.0)])
    handles = []

    def opener(u: str, readonly: bool = False):  # type: ignore[no-untyped-def]
        handles.append(open_historian(u, readonly=readonly))
        return handles[-1]

    src = HistorianSource(url, opener=opener)
    src.latest(["a"])
    src.latest(["a"])
    monkeypatch.setattr(data_module.os, "getpid", lambda: -1)  # as seen from a forked child
    src.latest(["a"])
    assert len(handles) == 2
    for h in handles:
        h.close()
