"""The login rate limiter on a real SQLite file: windows, several workers, races, hostile names."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from dashboards.ratelimit import Admitted, LoginLimit, LoginLimiter, Refused
from tests.dashboard_proc import Client, DashboardProc


class Clock:
    def __init__(self, t: float = 1_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def _fail(limiter: LoginLimiter, user: str, ip: str, n: int) -> None:
    for _ in range(n):
        assert isinstance(limiter.attempt(user, ip), Admitted)


def test_right_password_refused_until_the_window_has_passed(tmp_path: Path) -> None:
    clock = Clock()
    limiter = LoginLimiter(tmp_path / "l.db", LoginLimit(per_user=3, per_ip=100, window_s=300), clock)
    _fail(limiter, "kim", "10.0.0.1", 3)
    clock.t += 10
    refused = limiter.attempt("kim", "10.0.0.9")  # the check runs before any password is looked at
    assert refused == Refused("user", 290)
    clock.t += 289
    assert limiter.attempt("kim", "10.0.0.9") == Refused("user", 1)
    clock.t += 1.5  # the first failure left the window
    ok = limiter.attempt("kim", "10.0.0.9")
    assert isinstance(ok, Admitted)


def test_per_address_limit_and_success_forgets_only_the_users_failures(tmp_path: Path) -> None:
    clock = Clock()
    limiter = LoginLimiter(tmp_path / "l.db", LoginLimit(per_user=3, per_ip=4, window_s=60), clock)
    _fail(limiter, "kim", "10.0.0.1", 2)
    ok = limiter.attempt("kim", "10.0.0.1")
    assert isinstance(ok, Admitted)
    limiter.succeeded(ok, "kim")  # kim knew the password: kim's failures are gone...
    _fail(limiter, "kim", "10.0.0.2", 2)
    assert isinstance(limiter.attempt("lee", "10.0.0.1"), Admitted)  # ...the address keeps 2 + lee's 1
    assert isinstance(limiter.attempt("park", "10.0.0.1"), Admitted)
    assert limiter.attempt("choi", "10.0.0.1") == Refused("ip", 60)


def test_two_workers_share_the_file(tmp_path: Path) -> None:
    clock = Clock()
    a = LoginLimiter(tmp_path / "shared.db", LoginLimit(per_user=4), clock)
    b = LoginLimiter(tmp_path / "shared.db", LoginLimit(per_user=4), clock)
    _fail(a, "kim", "10.0.0.1", 2)
    _fail(b, "kim", "10.0.0.2", 2)
    assert isinstance(a.attempt("kim", "10.0.0.3"), Refused)
    assert isinstance(b.attempt("kim", "10.0.0.3"), Refused)


def test_parallel_attempts_cannot_slip_past_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    LoginLimiter(path)  # create the file once
    results: list[object] = []
    lock = threading.Lock()
    start = threading.Barrier(24)

    def worker(i: int) -> None:
        limiter = LoginLimiter(path, LoginLimit(per_user=5, per_ip=1000))  # one per "worker process"
        start.wait()
        r = limiter.attempt("kim", f"10.0.1.{i}")
        with lock:
            results.append(r)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(r, Admitted) for r in results) == 5
    assert sum(isinstance(r, Refused) for r in results) == 19


@pytest.mark.parametrize("name", ["x" * 1_000_000, "ops\x00", "\ud800lone", "운영자", "", None, 42])
def test_hostile_usernames_are_stored_as_fixed_size_digests(tmp_path: Path, name: object) -> None:
    limiter = LoginLimiter(tmp_path / "l.db", LoginLimit(per_user=1))
    assert isinstance(limiter.attempt(name, "10.0.0.1"), Admitted)
    assert isinstance(limiter.attempt(name, "10.0.0.2"), Refused)
    with sqlite3.connect(tmp_path / "l.db") as db:
        keys = [k for (k,) in db.execute("SELECT key FROM attempts")]
    assert all(len(k) <= 70 for k in keys)  # "user:" + 64 hex digits, or "ip:" + an address


@pytest.mark.parametrize("bad", [{"per_user": 0}, {"per_ip": -1}, {"window_s": 0}, {"window_s": float("nan")}])
def test_limits_are_validated(bad: dict) -> None:
    with pytest.raises(ValueError):
        LoginLimit(**bad)


def test_forwarded_for_is_ignored_without_proxy_hops(tmp_path: Path) -> None:
    """A client rotating X-Forwarded-For cannot escape the per-address limit of a direct server."""
    from dashboards.auth.users import User, add_user

    add_user(tmp_path / "users.yaml", User("ops", "operator"), "ops-pass")
    (tmp_path / "k").write_text("ratelimit-test-session-key-0123456789abcdef")
    proc = DashboardProc(
        ["--historian", "sqlite://" + str(tmp_path / "h.db"), "--config", "tiny", "--users",
         str(tmp_path / "users.yaml"), "--secret-file", str(tmp_path / "k"), "--state-dir", str(tmp_path / "st")],
        tmp_path,
    ).start()  # fmt: skip
    try:
        for i in range(20):
            assert Client(proc.url, ip=f"203.0.113.{i}").login(f"guess-{i}", "x").status == 200
        r = Client(proc.url, ip="198.51.100.1").login("ops", "ops-pass")
        assert r.status == 429 and "Retry-After" in r.headers
    finally:
        text = proc.stop()
    assert "Traceback" not in text
