"""Reject malformed callback requests with 400 before Dash sees them.

Callbacks are plain HTTP endpoints. Dash answers a request naming an unknown
callback, or with inputs missing, with a 500 and a logged traceback: anyone could
fill the logs. This guard checks the shape of ``/_dash-update-component`` bodies
against the app's own callback map; the callbacks still validate every value.
A later login check belongs here too (one place that sees every request).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from dash import Dash
from flask import jsonify, request

__all__ = ["MAX_REQUEST_BYTES", "callback_request_problem", "install_request_guard"]

log = logging.getLogger(__name__)

#: Largest request body accepted. Callback inputs here are ids and clicks, a few KB at most.
MAX_REQUEST_BYTES = 1024 * 1024


def _pattern_problem(item: object, spec_id: object, prop: object, key: str) -> str | None:
    """ALL / ALLSMALLER wildcards take a list of {id: {...}, property}; MATCH takes one such
    object. Dash answers any other shape with a 500 and a traceback."""
    if isinstance(spec_id, str):
        try:
            spec_id = json.loads(spec_id)
        except ValueError:
            return None
    if not isinstance(spec_id, dict):
        return None
    many = any(v in (["ALL"], ["ALLSMALLER"]) for v in spec_id.values())
    entries = item if many else [item]
    if many and not isinstance(item, list):
        return f"{key}: a wildcard (ALL) item must be a list"
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), dict) or entry.get("property") != prop:
            return f"{key}: pattern-matching entries need an object id and property {prop!r}"
    return None


def _same_ids(sent: object, declared: list[dict[str, Any]], key: str) -> str | None:
    if not isinstance(sent, list) or len(sent) != len(declared):
        return f"{key} must be a list of {len(declared)} item(s)"
    for item, spec in zip(sent, declared, strict=True):
        spec_id = spec.get("id")
        # pattern-matching ids: a dict, or in the callback map its JSON text ('{"type": ...}')
        if isinstance(spec_id, dict) or (isinstance(spec_id, str) and spec_id.startswith("{")):
            if not isinstance(item, list | dict):
                return f"{key}: pattern-matching item must be a list or object"
            problem = _pattern_problem(item, spec_id, spec.get("property"), key)
            if problem:
                return problem
            continue
        if (
            not isinstance(item, dict)
            or item.get("id") != spec["id"]
            or item.get("property") != spec["property"]
        ):
            return f"{key}: expected {spec['id']}.{spec['property']}"
    return None


def callback_request_problem(
    callback_map: Mapping[str, Mapping[str, Any]], body: object
) -> str | None:
    """Why ``body`` is not a well-formed call of one of the app's callbacks, or None."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    output = body.get("output")
    if not isinstance(output, str) or output not in callback_map:
        return "unknown callback output"
    spec = callback_map[output]
    for key in ("inputs", "state"):
        problem = _same_ids(body.get(key, []), list(spec.get(key, [])), key)
        if problem:
            return problem
    outputs = body.get("outputs", [])
    if not isinstance(outputs, list | dict):
        return "outputs must be a list or object"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "changedPropIds must be a list of strings"
    return None


def install_request_guard(app: Dash, max_bytes: int = MAX_REQUEST_BYTES) -> None:
    """Cap request size and answer malformed callback requests with 400 JSON."""
    server = app.server
    server.config["MAX_CONTENT_LENGTH"] = max_bytes
    path = app.config.routes_pathname_prefix + "_dash-update-component"

    @server.before_request
    def _check_callback_request():  # type: ignore[no-untyped-def]
        if request.method != "POST" or request.path != path:
            return None
        problem = callback_request_problem(app.callback_map, request.get_json(silent=True))
        if problem is None:
            return None
        log.debug("rejected callback request from %s: %s", request.remote_addr, problem)
        return jsonify(error="malformed callback request", detail=problem), 400
