"""``GET /health``: liveness and historian reachability as JSON, for demos and health checks."""

from __future__ import annotations

from flask import Flask, jsonify

from dashboards.context import DashboardContext
from twin.errors import HistorianError

__all__ = ["HEALTH_PATH", "register_health"]

HEALTH_PATH = "/health"


def register_health(server: Flask, ctx: DashboardContext) -> None:
    """Answer 200 while the server runs; ``historian`` says whether data can be read.

    The page works (greyed out) before ingest creates the historian, so an unreachable
    historian is reported as ``degraded`` rather than failing the health check.
    """
    probe = next(iter(ctx.complex.sensors), "health-probe")

    @server.get(HEALTH_PATH)
    def _health():  # type: ignore[no-untyped-def]
        try:
            ctx.historian.check(probe)
            historian, status = "ok", "ok"
        except HistorianError:
            historian, status = "unavailable", "degraded"
        response = jsonify(
            status=status,
            historian=historian,
            site=ctx.complex.site.id,
            factories=len(ctx.complex.factories),
            sensors=len(ctx.complex.sensors),
        )
        response.headers["Cache-Control"] = "no-store"
        return response
