"""Dashboard benchmark: page loads in headless Chromium and trend-callback latency over HTTP.

    python benchmarks/dashboard.py --data-dir /var/tmp/twin-dashboard-bench --json

1. Fill: a SQLite historian with ``--sensors`` (300) sensors x ``--days`` (7) of 1 Hz
   data (181 M readings at the defaults) through ``Historian.store`` in one-hour
   batches (300 x 3,600 readings each), timed. The demo complex config plus enough
   extra hazard sensors to reach ``--sensors`` is written beside it, so the dashboard
   knows every filled sensor. With ``--data-dir`` the filled file is kept and reused
   by later runs: a run only tops it up from its newest reading to now (a fill takes
   ~10 min here). Without it everything lives in a temp dir and is deleted.
2. A real ``twin dashboard`` process (waitress, open local mode) serves the file.
3. Page loads: for each page (operations ``/``, ``/alarms``, ``/tenant``,
   ``/simulation``), a fresh headless Chromium (cold cache) opens the URL; the time
   from the request to the page's main graph or table holding data (a DOM condition
   polled every 20 ms, see ``READY_JS``) is one sample (``page_load_s``); the same
   browser then opens it again after a blank page (``page_load_warm_s``: cached
   scripts, as for an operator who comes back). A page the app does not serve ("Page
   not found") is recorded as ``null`` with ``missing`` listing it. Baseline in the same
   run: the smallest Dash page with one plotted graph, timed the same way.
4. Trend callback: the real ``/_dash-update-component`` body of the overview trend
   (built from the app's ``/_dash-dependencies``), POSTed ``--calls`` (50) times per
   range and run for a random filled sensor; p50/p95 in ms. Baseline in the same run:
   the raw un-downsampled readings of the same range read from the same file in this
   process (``Historian.query``), which is what a trend without server-side
   aggregation would have to fetch before even sending it to the browser.

Several ``--runs`` (3); medians over runs. The last line printed with ``--json`` is
one JSON object; the keys other tools read are nested:
``{"page_load_s": {"operations", "alarms", "tenant", "simulation"},
"trend_p95_ms": {"15m", "24h", "7d", "30d"}}`` - and the same values as flat dotted keys
(``"page_load_s.operations"``, ``"trend_p95_ms.7d"``, ...).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ingest import free_port  # noqa: E402  (one copy of the port helpers)

from twin.codec import Reading  # noqa: E402
from twin.config import load_complex  # noqa: E402
from twin.historian import open_historian  # noqa: E402

HOUR_MS, DAY_MS = 3_600_000, 86_400_000
#: Trend ranges measured (keys of dashboards.trend.RANGES).
TREND_RANGES = ("15m", "24h", "7d", "30d")
RANGE_MS = {"15m": 15 * 60_000, "24h": DAY_MS, "7d": 7 * DAY_MS, "30d": 30 * DAY_MS}
#: Raw baseline queries per range and run (a 7-day raw read takes seconds).
BASELINE_CALLS = {"15m": 20, "24h": 5, "7d": 2, "30d": 2}
#: Pages and the path each is served at.
PAGES = {"operations": "/", "alarms": "/alarms", "tenant": "/tenant", "simulation": "/simulation"}
#: The smallest plotted Dash page (BaselinePage): with the app's plotly.js bundle, and with
#: the full plotly.js Dash serves by default.
BASELINES = ("baseline", "baseline_full")
PAGE_TIMEOUT_S = 60.0
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--window-size=1400,1000",
)

# ---- 1. data ------------------------------------------------------------------------

#: Extra hazard sensors added to the demo config to reach --sensors (the demo has 290).
_EXTRA_ZONE = "D"


def bench_config(work: Path, n_sensors: int) -> tuple[Path, list[str]]:
    """The demo config plus extra zone sensors up to ``n_sensors``; (its path, the filled ids)."""
    src = ROOT / "twin" / "data" / "demo-complex.yaml"
    doc = yaml.safe_load(src.read_text())
    have = len(load_complex(str(src)).sensors)
    zone = next(z for z in doc["zones"] if z["id"] == _EXTRA_ZONE)
    area = zone["area"]
    for i in range(max(0, n_sensors - have)):
        zone.setdefault("hazard_sensors", []).append(
            {
                "id": f"{_EXTRA_ZONE}-bench-{i:03d}",
                "kind": "temperature",
                "unit": "degC",
                "period_s": 1,
                "range": [-20, 200],
                "position": {
                    "x": area["x"] + 50 + (i * 97) % (area["w"] - 100),
                    "y": area["y"] + 50 + (i * 61) % (area["h"] - 100),
                },
            }
        )
    # The benchmark feeds history, not live readings: no "stale sensor" alarm for every sensor.
    doc["alarms"] = {**(doc.get("alarms") or {}), "stale_factor": 10_000}
    path = work / "complex.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    from dashboards.site import SiteIndex

    complex_ = load_complex(str(path))
    first = SiteIndex(complex_).default_sensor()  # what the overview trend shows on load
    ids = list(dict.fromkeys([first, *complex_.sensors]))[:n_sensors]
    return path, ids


def _signals(complex_path: Path, ids: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per sensor: low end, span and whether it is a machine-state sensor."""
    sensors = load_complex(str(complex_path)).sensors
    lo = np.array([sensors[s].sensor.range[0] for s in ids], dtype=np.float64)
    span = np.array([sensors[s].sensor.range[1] - sensors[s].sensor.range[0] for s in ids], dtype=np.float64)
    span = np.minimum(span, 1e6)  # energy meters count up to 1e9: keep values readable
    state = np.array([sensors[s].sensor.kind == "state" for s in ids])
    return lo, span, state


def readings(ids: list[str], shape: tuple, since_ms: int, until_ms: int, seed: int) -> list[Reading]:
    """1 Hz readings of every sensor in ``[since, until)``: a daily swing plus noise, states 0-4."""
    if not ids:
        return []
    lo, span, state = shape
    secs = np.arange(since_ms - since_ms % 1000 + (1000 if since_ms % 1000 else 0), until_ms, 1000, dtype=np.int64)
    n, k = len(ids), len(secs)
    ts = np.tile(secs, n)
    phase = np.repeat(np.arange(n, dtype=np.float64) * 0.37, k)
    rng = np.random.default_rng(seed)
    level = 0.5 + 0.3 * np.sin(2 * np.pi * ts / DAY_MS + phase) + rng.normal(0.0, 0.05, n * k)
    values = np.repeat(lo, k) + np.repeat(span, k) * np.clip(level, 0.0, 1.0)
    is_state = np.repeat(state, k)
    values[is_state] = np.floor(np.clip(level[is_state], 0.0, 0.999) * 5)
    names = np.repeat(np.array(ids, dtype=object), k)
    return list(map(Reading, names.tolist(), ts.tolist(), values.tolist()))


#: Shift KPIs the live twin writes (kpi.shift.factory.<id>.<kpi>), filled once a minute so the
#: tenant portal has a week of OEE history to draw.
KPI_EVERY_MS = 60_000


def kpi_series(complex_path: Path) -> list[str]:
    """The factory KPI series the tenant portal reads."""
    from dashboards.pages.tenant.kpis import BREAKDOWN, ENERGY_KPI, series_id

    factories = load_complex(str(complex_path)).factories
    return [series_id(f, k) for f in factories for k in (*BREAKDOWN, ENERGY_KPI)]


def kpi_readings(ids: list[str], since_ms: int, until_ms: int) -> list[Reading]:
    """One value a minute per KPI series: ratios between 0.5 and 0.95, energy per unit ~1.2 kWh."""
    first = since_ms + (-since_ms) % KPI_EVERY_MS
    out = []
    for i, sid in enumerate(ids):
        energy = sid.endswith("energy_per_good_unit_kwh")
        for t in range(first, until_ms, KPI_EVERY_MS):
            wave = 0.5 + 0.5 * np.sin(2 * np.pi * t / (8 * HOUR_MS) + i)
            out.append(Reading(sid, t, float(1.2 + 0.3 * wave if energy else 0.5 + 0.45 * wave)))
    return out


def _hours(since_ms: int, until_ms: int) -> Iterator[tuple[int, int]]:
    t = since_ms
    while t < until_ms:
        end = min(until_ms, t - t % HOUR_MS + HOUR_MS)
        yield t, end
        t = end


@contextmanager
def _progress(total: int, what: str):  # type: ignore[no-untyped-def]
    """A tqdm bar on stderr when tqdm is installed (it is, with dash[testing]); else nothing."""
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency of our test extras
        yield lambda n: None
        return
    with tqdm(total=total, desc=what, unit=" readings", unit_scale=True, file=sys.stderr, mininterval=2) as bar:
        yield bar.update


def store_range(
    url: str, ids: list[str], shape: tuple, since_ms: int, until_ms: int, progress: bool, kpis: list[str] = ()
) -> int:
    """Store 1 Hz readings of ``ids`` (and the minute KPIs) over ``[since, until)`` in one-hour
    batches; readings stored."""
    seconds = max(0, (until_ms - since_ms) // 1000)
    total = len(ids) * seconds + len(kpis) * (seconds // 60)  # for the progress bar
    stored = 0
    h = open_historian(url)
    try:
        with _progress(total, "fill") if progress else _nullbar() as update:
            for a, b in _hours(since_ms, until_ms):
                batch = readings(ids, shape, a, b, seed=a // HOUR_MS) + kpi_readings(list(kpis), a, b)
                h.store(batch)
                stored += len(batch)
                update(len(batch))
        if hasattr(h, "maintain"):
            h.maintain()  # what the writer's maintenance would have done meanwhile
    finally:
        h.close()
    return stored


@contextmanager
def _nullbar():  # type: ignore[no-untyped-def]
    yield lambda n: None


def ensure_data(work: Path, n_sensors: int, days: float, now: int, progress: bool = True) -> dict:
    """A filled historian in ``work`` (reused and topped up to ``now`` when it matches); its facts."""
    complex_path, ids = bench_config(work, n_sensors)
    db = work / "historian.db"
    meta_path = work / "fill.json"
    span_ms = int(days * DAY_MS)
    meta = json.loads(meta_path.read_text()) if meta_path.exists() and db.exists() else None
    shape = _signals(complex_path, ids)
    kpis = kpi_series(complex_path)
    # The fill itself is not what is measured: no fsync per batch.
    url = f"sqlite://{db}?sync=off"
    same = meta is not None and sorted(meta["sensors"]) == sorted(ids) and meta["span_ms"] == span_ms
    if meta and same and now - meta["end_ms"] < span_ms:
        t0 = time.perf_counter()
        if meta.get("kpi_series") != kpis:  # a file filled before KPIs were part of the fill
            store_range(url, [], shape, meta["start_ms"], meta["end_ms"], False, kpis)
            meta["kpi_series"] = kpis
        n = store_range(url, ids, shape, meta["end_ms"], now, progress, kpis)
        meta.update(end_ms=now, reused=True, topped_up=n, top_up_s=round(time.perf_counter() - t0, 1))
    else:
        for p in work.glob("historian.db*"):
            p.unlink()
        start = now - span_ms
        t0 = time.perf_counter()
        n = store_range(url, ids, shape, start, now, progress, kpis)
        fill_s = time.perf_counter() - t0
        meta = dict(
            sensors=ids,
            kpi_series=kpis,
            span_ms=span_ms,
            start_ms=start,
            end_ms=now,
            readings=n,
            fill_s=round(fill_s, 1),
            fill_per_s=round(n / fill_s) if fill_s else None,
            reused=False,
            topped_up=0,
            top_up_s=0.0,
        )
    meta_path.write_text(json.dumps(meta))
    meta["db"] = str(db)
    meta["config"] = str(complex_path)
    meta["size_mb"] = round(sum(p.stat().st_size for p in work.glob("historian.db*")) / 2**20)
    return meta


# ---- 2. processes -----------------------------------------------------------------------


def _get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Services:
    """Mosquitto + `twin live` (when mosquitto is installed and wanted) and `twin dashboard`."""

    def __init__(self, work: Path, db: str, config: str, live: bool):
        self.work, self.db, self.config, self.want_live = work, db, config, live
        self.broker = None
        self.live = None
        self.dashboard: subprocess.Popen | None = None
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self) -> Services:
        cmd = [sys.executable, "-m", "twin", "dashboard", "--historian", f"sqlite://{self.db}"]
        if self.want_live:
            from tests.fixtures.mosquitto import Mosquitto  # plain classes; no pytest at run time
            from tests.live_procs import LiveProc

            (self.work / "mosquitto").mkdir(parents=True, exist_ok=True)
            self.broker = Mosquitto(port=free_port(), workdir=self.work / "mosquitto")
            self.broker.start()
            live_dir = self.work / "live"  # its own historian: the benchmark file stays as filled
            live_dir.mkdir(exist_ok=True)
            self.live = LiveProc(self.broker.url, live_dir, self.config, "bench-live").start()
            cmd += ["--broker", self.broker.url]
        cmd += ["--config", self.config, "--port", str(self.port), "--log-level", "warning"]
        log = (self.work / "dashboard.log").open("ab")
        self.dashboard = subprocess.Popen(cmd, stdout=log, stderr=log, cwd=ROOT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.dashboard.poll() is not None:
                raise SystemExit(f"twin dashboard exited:\n{(self.work / 'dashboard.log').read_text()[-3000:]}")
            try:
                if _get(self.base + "/health", 2)[0] in (200, 503):
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("twin dashboard did not answer /health within 120 s")

    def stop(self) -> None:
        proc = self.dashboard
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.live is not None and self.live.alive():
            self.live.stop()
        if self.broker is not None:
            self.broker.stop()


# ---- 3. page loads ----------------------------------------------------------------------

# Each page's "complete" condition, as a JS expression; "missing" when the app has no such page.
_JS_HELPERS = """
const missing = document.querySelector('#page-content .not-found, .not-found');
if (missing) return 'missing';
// _fullData: what plotly draws, with base64 typed arrays decoded
const plotted = (sel) => { const gd = document.querySelector(sel + ' .js-plotly-plot');
  return !!(gd && gd._fullData && gd._fullData.some(t => (t.x && t.x.length) || (t.y && t.y.length)
    || (t.values && t.values.length) || (t.lat && t.lat.length))); };
const filled = (sel) => { const e = document.querySelector(sel);
  return !!(e && (e.childElementCount > 0 || e.innerText.trim())); };
const settled = () => !document.querySelector('[data-dash-is-loading="true"]');
"""
READY_JS = {
    # the site map and the trend of the default sensor both hold data
    "operations": "return plotted('#overview-sitemap') && plotted('#overview-trend') ? 'ready' : null;",
    # the open-alarm table (rows or "No open alarms.") from the live twin
    "alarms": "return filled('#alarms-table') ? 'ready' : null;",
    # the tenant's three graphs: OEE breakdown and energy from the KPI history, downtime Pareto
    "tenant": "return plotted('#tenant-oee') && plotted('#tenant-energy') && plotted('#tenant-pareto')"
    " ? 'ready' : null;",
    # the scenario picker and the chosen scenario's description (the lab runs nothing on load)
    # the baseline page (see BaselinePage)
    "baseline": "return plotted('#baseline-graph') ? 'ready' : null;",
    "baseline_full": "return plotted('#baseline-graph') ? 'ready' : null;",
    "simulation": "return filled('#simlab-description') && settled() ? 'ready' : null;",
}


def new_chromium():  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options

    options = Options()
    chromium = shutil.which("chromium")
    if chromium:
        options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, "--enable-unsafe-swiftshader"):  # WebGL without a GPU
        options.add_argument(flag)
    return webdriver.Chrome(options=options)


def _until_ready(driver, url: str, script: str) -> tuple[float, str]:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    driver.get(url)
    state = None
    while state is None:
        state = driver.execute_script(script)
        if state is None:
            if time.perf_counter() - t0 > PAGE_TIMEOUT_S:
                state = "timeout"
            else:
                time.sleep(0.02)
    return time.perf_counter() - t0, state


def page_load(base: str, name: str, path: str) -> tuple[float | None, float | None, str, int]:
    """Seconds from the request to the page's complete condition: in a fresh browser (cold
    cache), then again in the same browser after a detour to a blank page (warm cache).

    Returns ``(cold s or None, warm s or None, "ready" | "missing" | "timeout", severe
    console messages)``.
    """
    driver = new_chromium()
    try:
        script = _JS_HELPERS + READY_JS[name]
        cold, state = _until_ready(driver, base + path, script)
        warm = None
        if state == "ready":
            driver.get("about:blank")
            warm, again = _until_ready(driver, base + path, script)
            warm = warm if again == "ready" else None
        severe = sum(1 for e in driver.get_log("browser") if e.get("level") == "SEVERE")
    finally:
        driver.quit()
    return (cold if state == "ready" else None), warm, state, severe


class BaselinePage:
    """The smallest Dash page with a plotted graph: one callback fills one 3-point Scatter.

    Served by waitress in this process and timed exactly like the real pages, it gives
    what Dash + plotly.js + a cold headless Chromium cost on this machine right now, so
    the app's pages can be read as a ratio to it. ``full_plotly``: with the full plotly.js
    Dash serves by default (4.8 MB) instead of the app's partial bundle (1.5 MB,
    dashboards/plotly-bundle/README.md), to show what the bundle saves.
    """

    def __init__(self, full_plotly: bool = False) -> None:
        import plotly.graph_objects as go
        from dash import Dash, Input, Output, dcc, html
        from waitress.server import create_server

        from dashboards.plotly_bundle import install_plotly_bundle

        app = Dash(__name__)
        if not full_plotly:
            install_plotly_bundle(app)
        app.layout = html.Div([dcc.Graph(id="baseline-graph")])

        @app.callback(Output("baseline-graph", "figure"), Input("baseline-graph", "id"))
        def _fill(_id: object) -> go.Figure:
            return go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 3, 2]))

        self.server = create_server(app.server, host="127.0.0.1", port=free_port(), threads=4)
        self.base = f"http://127.0.0.1:{self.server.effective_port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> BaselinePage:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.close()


# ---- 4. the trend callback over HTTP -----------------------------------------------------


def trend_callback(base: str) -> dict:
    """The overview trend's entry in the app's callback map (``/_dash-dependencies``)."""
    status, body = _get(base + "/_dash-dependencies", 30)
    if status != 200:
        raise SystemExit(f"/_dash-dependencies answered {status}")
    for dep in json.loads(body):
        if "overview-trend.figure" in dep["output"]:
            return dep
    raise SystemExit("no overview trend callback in /_dash-dependencies")


def trend_body(dep: dict, sensor: str, range_key: str, tick: int) -> dict:
    """The body the browser POSTs when the trend refreshes (what dash-renderer sends)."""
    outputs = []
    for part in dep["output"].strip(".").split("..."):
        cid, prop = part.rsplit(".", 1)
        outputs.append({"id": cid, "property": prop})
    values = {
        "overview-tick.n_intervals": tick,
        "overview-selection.data": {"sensor": sensor, "asset": None},
        "overview-range.value": range_key,
    }
    inputs = [
        {"id": i["id"], "property": i["property"], "value": values[f"{i['id']}.{i['property']}"]} for i in dep["inputs"]
    ]
    return {
        "output": dep["output"],
        "outputs": outputs,
        "inputs": inputs,
        "changedPropIds": ["overview-tick.n_intervals"],
        "state": [],
    }


_ITEM_BYTES = {"f8": 8, "f4": 4, "i4": 4, "u4": 4, "i2": 2, "u2": 2, "i1": 1, "u1": 1}


def _length(column: object) -> int:
    """Points in a figure column: a JSON list or plotly's base64 typed array ``{dtype, bdata}``."""
    if isinstance(column, dict) and "bdata" in column:
        return len(base64.b64decode(column["bdata"])) // _ITEM_BYTES[column["dtype"]]
    return len(column) if isinstance(column, list) else 0


def trend_latencies(base: str, dep: dict, sensors: list[str], key: str, n: int, rnd: random.Random) -> dict:
    """``n`` trend refreshes for random sensors over one keep-alive connection: ms, points, bytes."""
    import requests

    ms, points, size = [], [], []
    with requests.Session() as s:
        for i in range(n):
            body = trend_body(dep, rnd.choice(sensors), key, i + 1)
            t0 = time.perf_counter()
            r = s.post(base + "/_dash-update-component", json=body, timeout=60)
            ms.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200:
                raise SystemExit(f"trend callback ({key}) answered {r.status_code}: {r.text[:300]}")
            fig = r.json()["response"]["overview-trend"]["figure"]
            traces = fig.get("data") or []
            if not traces:
                note = [a.get("text") for a in fig.get("layout", {}).get("annotations", [])]
                raise SystemExit(f"trend callback ({key}) returned no data: {note}")
            points.append(max(_length(t.get("x")) for t in traces))
            size.append(len(r.content))
    return {"ms": ms, "points": points, "bytes": size, "types": sorted({t["type"] for t in traces})}


def raw_baseline(db: str, sensors: list[str], key: str, n: int, now: int, rnd: random.Random) -> dict:
    """The raw readings an un-downsampled trend of the range would fetch, read in-process."""
    h = open_historian(f"sqlite://{db}", readonly=True)
    ms, points = [], []
    try:
        for _ in range(n):
            sid = rnd.choice(sensors)
            t0 = time.perf_counter()
            got = h.query([sid], now - RANGE_MS[key], now + 1)
            ms.append((time.perf_counter() - t0) * 1000)
            points.append(len(got))
    finally:
        h.close()
    return {"ms": ms, "points": points}


# ---- main -------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def _median(values: list[float | None]) -> float | None:
    real = [v for v in values if v is not None]
    return statistics.median(real) if real else None


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(x, nd)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sensors", type=int, default=300, help="sensors filled at 1 Hz (default 300)")
    ap.add_argument("--days", type=float, default=7.0, help="days of history filled (default 7)")
    ap.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep the filled historian here and reuse it next time (default: a temp dir, deleted)",
    )
    ap.add_argument("--runs", type=int, default=3, help="runs; medians over runs are reported")
    ap.add_argument("--calls", type=int, default=50, help="trend callbacks per range and run")
    ap.add_argument(
        "--pages",
        default=",".join(PAGES),
        help=f"pages to load in Chromium, comma-separated ({', '.join(PAGES)}), or 'none'",
    )
    ap.add_argument("--no-live", action="store_true", help="no Mosquitto + `twin live` beside the dashboard")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar while filling")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="end with one JSON line of results")
    args = ap.parse_args(argv)
    if args.sensors < 1 or args.days <= 0 or args.runs < 1 or args.calls < 1:
        ap.error("--sensors, --days, --runs and --calls must be > 0")
    pages = [] if args.pages.strip() == "none" else [p.strip() for p in args.pages.split(",") if p.strip()]
    unknown = set(pages) - set(PAGES)
    if unknown:
        ap.error(f"unknown page(s) {sorted(unknown)}; pages: {', '.join(PAGES)}")
    live = not args.no_live and shutil.which("mosquitto") is not None
    if not args.no_live and not live:
        print("mosquitto not installed: no live twin, the alarm console says so", file=sys.stderr)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on the way out
    temp = args.data_dir is None
    work = Path(tempfile.mkdtemp(prefix="twin-dash-bench-")) if temp else args.data_dir
    work.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()
    rnd = random.Random(args.seed)
    results: dict = {}
    services = None
    try:
        now = int(time.time() * 1000)
        fill = ensure_data(work, args.sensors, args.days, now, progress=not args.no_progress)
        sensors = fill.pop("sensors")
        print(
            f"historian: {fill['readings']:,} readings of {len(sensors)} sensors, {fill['size_mb']} MB; "
            + (
                f"reused, topped up {fill['topped_up']:,} in {fill['top_up_s']} s"
                if fill["reused"]
                else f"filled in {fill['fill_s']} s ({fill['fill_per_s']:,}/s)"
            ),
            file=sys.stderr,
        )
        services = Services(work, fill["db"], fill["config"], live).start()
        dep = trend_callback(services.base)
        loads: dict[str, list[float | None]] = {p: [] for p in (*PAGES, *BASELINES)}
        warms: dict[str, list[float | None]] = {p: [] for p in (*PAGES, *BASELINES)}
        states: dict[str, list[str]] = {p: [] for p in PAGES}
        severe: dict[str, int] = {p: 0 for p in PAGES}
        lat: dict[str, list[dict]] = {k: [] for k in TREND_RANGES}
        base: dict[str, list[dict]] = {k: [] for k in TREND_RANGES}
        baseline_pages = (
            {name: BaselinePage(full_plotly=name == "baseline_full").__enter__() for name in BASELINES} if pages else {}
        )
        for run in range(args.runs):
            for name, page in baseline_pages.items():
                cold, warm, _, _ = page_load(page.base, name, "/")
                loads[name].append(cold)
                warms[name].append(warm)
            for name in pages:
                s, warm, state, errors = page_load(services.base, name, PAGES[name])
                loads[name].append(s)
                warms[name].append(warm)
                states[name].append(state)
                severe[name] += errors
            for key in TREND_RANGES:
                lat[key].append(trend_latencies(services.base, dep, sensors, key, args.calls, rnd))
                n_base = min(args.calls, BASELINE_CALLS[key])
                base[key].append(raw_baseline(fill["db"], sensors, key, n_base, int(time.time() * 1000), rnd))
            print(
                f"run {run + 1}/{args.runs}: "
                + ", ".join(f"{p} {loads[p][-1] if loads[p][-1] is None else round(loads[p][-1], 2)} s" for p in pages)
                + "; trend p95 "
                + ", ".join(f"{k} {percentile(lat[k][-1]['ms'], 0.95):.0f} ms" for k in TREND_RANGES),
                file=sys.stderr,
            )
        for page in baseline_pages.values():
            page.__exit__()
    finally:
        if services is not None:
            services.stop()
        if temp:
            shutil.rmtree(work, ignore_errors=True)

    missing = sorted(p for p in pages if "missing" in states[p])
    results["page_load_s"] = {p: _r(_median(loads[p])) if p in pages and p not in missing else None for p in PAGES}
    results["page_load_runs_s"] = {p: [_r(x) for x in loads[p]] for p in pages}
    results["page_load_warm_s"] = {
        p: _r(_median(warms[p])) if (p in pages or p in BASELINES) and p not in missing else None
        for p in (*PAGES, *BASELINES)
    }
    base_load = _median(loads["baseline"])
    results["page_load_baseline_s"] = _r(base_load)
    results["page_load_baseline_full_plotly_s"] = _r(_median(loads["baseline_full"]))
    results["page_load_ratio_to_baseline"] = {
        p: _r(v / base_load, 2) if v is not None and base_load else None
        for p, v in results["page_load_s"].items()
        if p in pages
    }
    results["page_state"] = {p: states[p] for p in pages}
    results["page_console_errors"] = {p: severe[p] for p in pages}
    results["missing"] = missing
    p95 = {k: [percentile(r["ms"], 0.95) for r in lat[k]] for k in TREND_RANGES}
    p50 = {k: [percentile(r["ms"], 0.5) for r in lat[k]] for k in TREND_RANGES}
    results["trend_p95_ms"] = {k: _r(statistics.median(p95[k]), 1) for k in TREND_RANGES}
    results["trend_p50_ms"] = {k: _r(statistics.median(p50[k]), 1) for k in TREND_RANGES}
    results["trend_p95_runs_ms"] = {k: [_r(x, 1) for x in p95[k]] for k in TREND_RANGES}
    results["trend_points_max"] = {k: max(max(r["points"]) for r in lat[k]) for k in TREND_RANGES}
    results["trend_response_kb"] = {
        k: _r(statistics.median([b for r in lat[k] for b in r["bytes"]]) / 1024, 1) for k in TREND_RANGES
    }
    results["trend_trace_types"] = {k: lat[k][-1]["types"] for k in TREND_RANGES}
    bp50 = {k: statistics.median([percentile(r["ms"], 0.5) for r in base[k]]) for k in TREND_RANGES}
    results["baseline_raw_query_p50_ms"] = {k: _r(bp50[k], 1) for k in TREND_RANGES}
    results["baseline_raw_points"] = {k: max(max(r["points"]) for r in base[k]) for k in TREND_RANGES}
    results["ratio_raw_query_to_trend_p50"] = {
        k: _r(bp50[k] / results["trend_p50_ms"][k], 2) if results["trend_p50_ms"][k] else None for k in TREND_RANGES
    }
    results["targets"] = {
        "page_load_s": 2.0,
        "trend_p95_ms": 300.0,
        "pages_met": {p: (v is not None and v < 2.0) for p, v in results["page_load_s"].items() if p in pages},
        "trend_met": {k: v < 300.0 for k, v in results["trend_p95_ms"].items()},
    }
    results["fill"] = {k: v for k, v in fill.items() if k not in ("db", "config", "kpi_series")}
    results["fill"]["kpi_series"] = len(fill.get("kpi_series", []))
    results["params"] = {
        "sensors": args.sensors,
        "days": args.days,
        "runs": args.runs,
        "calls": args.calls,
        "pages": pages,
        "live_twin": live,
        "data_dir": None if temp else str(work),
    }
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_start": [round(x, 2) for x in load0],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    }
    for group in ("page_load_s", "trend_p95_ms"):
        for k, v in results[group].items():
            results[f"{group}.{k}"] = v

    print()
    print(f"{'page':14}{'cold s (median)':>18}{'cold runs':>40}{'warm s':>10}")
    for p in [*pages, *BASELINES] if pages else []:
        runs = ", ".join("-" if x is None else f"{x:.2f}" for x in loads[p])
        shown = "missing" if p in missing else results["page_load_s"].get(p, _r(_median(loads[p])))
        print(f"{p:14}{shown!s:>18}{runs:>40}{results['page_load_warm_s'].get(p)!s:>10}")
    print()
    print(f"{'trend':8}{'p50 ms':>10}{'p95 ms':>10}{'points':>9}{'KB':>8}{'raw p50 ms':>12}{'raw pts':>10}{'ratio':>8}")
    for k in TREND_RANGES:
        print(
            f"{k:8}{results['trend_p50_ms'][k]:>10}{results['trend_p95_ms'][k]:>10}"
            f"{results['trend_points_max'][k]:>9}{results['trend_response_kb'][k]:>8}"
            f"{results['baseline_raw_query_p50_ms'][k]:>12}{results['baseline_raw_points'][k]:>10,}"
            f"{results['ratio_raw_query_to_trend_p50'][k]!s:>8}"
        )
    if args.json:
        print(json.dumps(results, separators=(",", ":")))
    return results


if __name__ == "__main__":
    main()
