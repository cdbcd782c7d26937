"""Malformed callback requests get 400 (not Dash's 500 with a traceback); good ones pass."""

from __future__ import annotations

import pytest

from dashboards.app import create_app
from dashboards.guard import MAX_REQUEST_BYTES, callback_request_problem
from twin.config import load_complex

TREND = "..overview-trend.figure...overview-trend-status.children.."


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return create_app(
        load_complex("tiny"), "sqlite://" + str(tmp_path_factory.mktemp("g") / "h.db")
    )


def _good() -> dict:
    return {
        "output": TREND,
        "outputs": [
            {"id": "overview-trend", "property": "figure"},
            {"id": "overview-trend-status", "property": "children"},
        ],
        "inputs": [
            {"id": "overview-tick", "property": "n_intervals", "value": 1},
            {"id": "overview-selection", "property": "data", "value": {"sensor": "nope"}},
            {"id": "overview-range", "property": "value", "value": "15m"},
        ],
        "changedPropIds": ["overview-tick.n_intervals"],
    }


def test_well_formed_call_passes_and_runs(app) -> None:  # type: ignore[no-untyped-def]
    assert callback_request_problem(app.callback_map, _good()) is None
    r = app.server.test_client().post("/_dash-update-component", json=_good())
    assert r.status_code == 200
    assert r.json["response"]["overview-trend"]["figure"]["data"] == []


def _without(key: str) -> dict:
    body = _good()
    del body[key]
    return body


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([1, 2], "body must be a JSON object"),
        ({**_good(), "output": "nope.figure"}, "unknown callback output"),
        ({**_good(), "output": ["x"]}, "unknown callback output"),
        (_without("inputs"), "inputs must be a list of 3 item(s)"),
        ({**_good(), "inputs": _good()["inputs"][:2]}, "inputs must be a list of 3 item(s)"),
        ({**_good(), "inputs": "x"}, "inputs must be a list of 3 item(s)"),
        (
            {**_good(), "inputs": [{"id": "x", "property": "y"}] * 3},
            "inputs: expected overview-tick.n_intervals",
        ),
        ({**_good(), "state": [{"id": "a", "property": "b"}]}, "state must be a list of 0 item(s)"),
        ({**_good(), "outputs": "x"}, "outputs must be a list or object"),
        ({**_good(), "changedPropIds": [1]}, "changedPropIds must be a list of strings"),
    ],
)
def test_malformed_calls_are_400_with_the_reason(app, body: object, problem: str) -> None:  # type: ignore[no-untyped-def]
    assert callback_request_problem(app.callback_map, body) == problem
    r = app.server.test_client().post("/_dash-update-component", json=body)
    assert r.status_code == 400
    assert r.json == {"error": "malformed callback request", "detail": problem}


def test_non_json_and_oversized_bodies_are_refused(app) -> None:  # type: ignore[no-untyped-def]
    client = app.server.test_client()
    r = client.post("/_dash-update-component", data=b"{not json", content_type="application/json")
    assert r.status_code == 400
    big = b'{"output": "' + b"x" * (MAX_REQUEST_BYTES + 1) + b'"}'
    assert (
        client.post(
            "/_dash-update-component", data=big, content_type="application/json"
        ).status_code
        == 413
    )
