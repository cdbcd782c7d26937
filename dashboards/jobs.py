"""Background jobs as directories on disk, run by a child process (``python -m MODULE JOBDIR``).

The dashboard runs under several WSGI workers, possibly with threads, and a simulation
takes minutes: it must not run in a request thread, and its state must not live in one
worker's memory. So a job is a directory that any worker can read:

    ROOT/<job id>/spec.json     what to run, who asked (written once, before the start)
    ROOT/<job id>/status.json   state, done/total, message, pid (rewritten atomically)
    ROOT/<job id>/result.json   the result, once done (written atomically)
    ROOT/<job id>/cancel        exists once someone asked to cancel
    ROOT/<job id>/log.txt       the child's stderr (logging), for the operator of the server

The parent (:class:`JobStore`) starts the child and reads files; the child
(:class:`JobReporter`) writes status and result. Files are replaced with
``os.replace``, so a reader never sees half a file. Starting a job takes an exclusive
``flock`` on ``ROOT/.lock`` while it counts running jobs, so two workers cannot both
take the last free slot. A job whose process died without a final status (killed,
machine restart) is reported as failed and no longer counts against the limits.

One host: workers on several machines need a shared directory *and* a shared process
table, which this does not provide.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ACTIVE_STATES",
    "FINAL_STATES",
    "JOB_ID",
    "JobCancelled",
    "JobError",
    "JobLimits",
    "JobReporter",
    "JobStore",
    "read_json",
    "write_json_atomic",
]

log = logging.getLogger(__name__)

#: Job ids are random hex: never a path a client could steer.
JOB_ID = re.compile(r"^[0-9a-f]{32}$")
ACTIVE_STATES = frozenset({"starting", "running"})
FINAL_STATES = frozenset({"done", "failed", "cancelled"})
#: Finished jobs older than this are removed when a new job starts.
KEEP_FINISHED_S = 7 * 86400.0
#: Reads of an empty /proc/PID/cmdline before a process counts as gone (see _process_alive).
_CMDLINE_TRIES = 5
#: Largest JSON file read back (a result of the demo complex is a few hundred KB).
MAX_JSON_BYTES = 32 * 1024 * 1024


class JobError(Exception):
    """A job cannot be started or read; the message is meant for the user."""


class JobCancelled(Exception):
    """Raised inside the child when the job was asked to stop."""


@dataclass(frozen=True, slots=True)
class JobLimits:
    """How many jobs may run at once: per user and in total (they share the server's CPUs)."""

    per_user: int = 1
    total: int = 2

    def __post_init__(self) -> None:
        for name in ("per_user", "total"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'"{name}" must be an integer >= 1 (got {value!r})')


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON so that readers see the old file or the new one, never a part."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, allow_nan=False), encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    """The JSON in ``path``, or None if it is missing, too large or not JSON."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            log.warning("%s is larger than %d bytes; not read", path, MAX_JSON_BYTES)
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return None


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _process_alive(pid: object, job_dir: Path) -> bool:
    """Whether ``pid`` is still the runner of ``job_dir`` (a recycled pid is not)."""
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if Path("/proc/self/cmdline").exists():
        text = b""
        for _ in range(_CMDLINE_TRIES):
            try:
                text = cmdline.read_bytes()
            except OSError:
                return False
            if text:
                break
            # empty: a zombie, or a child in the middle of exec (Popen returns before the kernel
            # has set up the new argv), so look again before calling it dead
            time.sleep(0.01)
        if str(job_dir).encode() not in text:
            return False
        try:  # a zombie has a cmdline of "" on Linux, but check its state to be sure
            stat = Path(f"/proc/{pid}/stat").read_text()
            return stat.rsplit(")", 1)[-1].split()[0] != "Z"
        except (OSError, IndexError):
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobStore:
    """Start, watch, cancel and read jobs under ``root`` (any worker process, any thread)."""

    def __init__(self, root: str | os.PathLike[str], limits: JobLimits | None = None) -> None:
        self.root = Path(root)
        self.limits = limits or JobLimits()

    # ---- paths -------------------------------------------------------------------------

    def _dir(self, job_id: object) -> Path | None:
        if not isinstance(job_id, str) or not JOB_ID.match(job_id):
            return None
        d = self.root / job_id
        return d if d.is_dir() else None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.root / ".lock", "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # ---- reading -----------------------------------------------------------------------

    def _spec(self, d: Path) -> dict[str, Any] | None:
        spec = read_json(d / "spec.json")
        return spec if isinstance(spec, dict) else None

    def _status(self, d: Path) -> dict[str, Any]:
        status = read_json(d / "status.json")
        if not isinstance(status, dict):
            return {"state": "failed", "message": "the job has no readable status"}
        if status.get("state") in ACTIVE_STATES and not _process_alive(_pid_of(d, status), d):
            # a final status may have been written between our two reads
            again = read_json(d / "status.json")
            if isinstance(again, dict) and again.get("state") in FINAL_STATES:
                return again
            if status.get("state") == "starting" and _now_ms() - int(status.get("updated_ms") or 0) < 30_000:
                return status  # the parent has not recorded the pid yet
            cancelled = (d / "cancel").exists()
            return {
                **status,
                "state": "cancelled" if cancelled else "failed",
                "message": "cancelled" if cancelled else "the job process ended without a result (see the server log)",
            }
        return status

    def jobs(self) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
        """Every job: (id, spec, status)."""
        if not self.root.is_dir():
            return
        for d in sorted(self.root.iterdir()):
            if not JOB_ID.match(d.name) or not d.is_dir():
                continue
            spec = self._spec(d)
            if spec is not None:
                yield d.name, spec, self._status(d)

    def active(self, owner: str | None = None) -> list[str]:
        """Ids of running jobs (of ``owner`` only, if given)."""
        return [
            jid
            for jid, spec, status in self.jobs()
            if status.get("state") in ACTIVE_STATES and (owner is None or spec.get("owner") == owner)
        ]

    def _owned(self, job_id: object, owner: str) -> Path | None:
        d = self._dir(job_id)
        if d is None:
            return None
        spec = self._spec(d)
        if spec is None or spec.get("owner") != owner:
            return None
        return d

    def status(self, job_id: object, owner: str) -> dict[str, Any] | None:
        """The job's status if it exists and belongs to ``owner``; else None."""
        d = self._owned(job_id, owner)
        if d is None:
            return None
        spec = self._spec(d) or {}
        return {**self._status(d), "kind": spec.get("kind"), "id": d.name}

    def result(self, job_id: object, owner: str) -> Any:
        """The job's result if it is done and belongs to ``owner``; else None."""
        d = self._owned(job_id, owner)
        if d is None or self._status(d).get("state") != "done":
            return None
        return read_json(d / "result.json")

    # ---- acting ------------------------------------------------------------------------

    def start(self, owner: str, kind: str, params: Mapping[str, Any], module: str) -> str:
        """Start ``python -m module JOBDIR`` for a new job; its id. Raises JobError when
        the limits are reached."""
        if not owner:
            raise JobError("not signed in")
        with self._locked():
            running = [(jid, spec) for jid, spec, st in self.jobs() if st.get("state") in ACTIVE_STATES]
            mine = [jid for jid, spec in running if spec.get("owner") == owner]
            if len(mine) >= self.limits.per_user:
                raise JobError(
                    f"you already have {len(mine)} job(s) running (at most {self.limits.per_user}); "
                    "wait for it or cancel it"
                )
            if len(running) >= self.limits.total:
                raise JobError(
                    f"the server already runs {len(running)} job(s) (at most {self.limits.total}); try again later"
                )
            self._prune()
            job_id = secrets.token_hex(16)
            d = self.root / job_id
            d.mkdir(mode=0o700)
            write_json_atomic(
                d / "spec.json", {"id": job_id, "owner": owner, "kind": kind, "params": dict(params),
                                  "created_ms": _now_ms()}
            )
            write_json_atomic(
                d / "status.json",
                {"state": "starting", "done": 0, "total": 0, "message": "starting", "updated_ms": _now_ms()},
            )
            try:
                with open(d / "log.txt", "ab") as log_file:
                    proc = subprocess.Popen(
                        [sys.executable, "-m", module, str(d)],
                        stdin=subprocess.DEVNULL,
                        stdout=log_file,
                        stderr=log_file,
                        start_new_session=True,  # its own process group: cancel stops it and its children
                        close_fds=True,
                    )
            except OSError as exc:
                write_json_atomic(d / "status.json", {"state": "failed", "message": f"cannot start: {exc}"})
                raise JobError(f"cannot start the job: {exc}") from exc
            # status.json is the child's to write from now on (it records its own pid there too)
            (d / "pid").write_text(str(proc.pid))
        # Reap the child when it ends (no zombie); the thread holds no user state.
        threading.Thread(target=proc.wait, name=f"job-reaper-{job_id[:8]}", daemon=True).start()
        log.info("started %s job %s for %s (pid %d)", kind, job_id, owner, proc.pid)
        return job_id

    def cancel(self, job_id: object, owner: str) -> bool:
        """Ask ``owner``'s job to stop; False if there is no such job of theirs or it has ended."""
        d = self._owned(job_id, owner)
        if d is None:
            return False
        status = self._status(d)
        if status.get("state") not in ACTIVE_STATES:
            return False
        (d / "cancel").touch()
        pid = _pid_of(d, status)
        if pid is not None and _process_alive(pid, d):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)  # the runner turns it into JobCancelled
        log.info("cancel requested for job %s by %s", d.name, owner)
        return True

    def _prune(self) -> None:
        cutoff = _now_ms() - KEEP_FINISHED_S * 1000
        for jid, spec, status in list(self.jobs()):
            if status.get("state") in FINAL_STATES and int(spec.get("created_ms") or 0) < cutoff:
                d = self.root / jid
                for f in d.iterdir():
                    with contextlib.suppress(OSError):
                        f.unlink()
                with contextlib.suppress(OSError):
                    d.rmdir()


def _pid_of(d: Path, status: Mapping[str, Any]) -> int | None:
    pid = status.get("pid")
    if isinstance(pid, int) and not isinstance(pid, bool):
        return pid
    try:
        return int((d / "pid").read_text())
    except (OSError, ValueError):
        return None


class JobReporter:
    """The child's side: read the spec, report progress, write the result or the failure."""

    def __init__(self, job_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(job_dir)
        spec = read_json(self.dir / "spec.json")
        if not isinstance(spec, dict) or not isinstance(spec.get("params"), dict):
            raise JobError(f"{self.dir}: no readable spec.json")
        self.spec: dict[str, Any] = spec
        self._last_write = 0.0

    @property
    def params(self) -> dict[str, Any]:
        return self.spec["params"]

    def cancel_requested(self) -> bool:
        return (self.dir / "cancel").exists()

    def _write(self, state: str, done: int, total: int, message: str) -> None:
        write_json_atomic(
            self.dir / "status.json",
            {
                "state": state,
                "done": done,
                "total": total,
                "message": message,
                "pid": os.getpid(),
                "updated_ms": _now_ms(),
            },
        )

    def progress(self, done: int, total: int, message: str = "") -> None:
        """Record progress; raises :class:`JobCancelled` if a cancel was asked for."""
        if self.cancel_requested():
            raise JobCancelled()
        self._write("running", done, total, message or f"{done}/{total}")

    def finish(self, result: Any, message: str = "done") -> None:
        write_json_atomic(self.dir / "result.json", result)
        status = read_json(self.dir / "status.json") or {}
        total = int(status.get("total") or 0)
        self._write("done", total, total, message)

    def fail(self, message: str) -> None:
        status = read_json(self.dir / "status.json") or {}
        self._write("failed", int(status.get("done") or 0), int(status.get("total") or 0), message)

    def cancelled(self) -> None:
        status = read_json(self.dir / "status.json") or {}
        self._write("cancelled", int(status.get("done") or 0), int(status.get("total") or 0), "cancelled")
