"""Dash's JSON as tests read and write it: figure columns (numpy columns travel as plotly's
base64 typed arrays), serialised layouts, and ``/_dash-update-component`` bodies."""

from __future__ import annotations

import base64
import json

import numpy as np


def column(value: object) -> list:
    """A trace column (``x``, ``y``, ...) as a list, whether sent as a list or as ``{dtype, bdata}``."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return list(value) if value is not None else []


def numbers(body: bytes) -> set[float]:
    """Every number of every trace column in a Dash response body (typed arrays decoded),
    rounded to 9 digits: so a test can say a value was, or was not, sent. Empty when
    the body is not JSON (an error page)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return set()
    found: set[float] = set()
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "bdata" in node and "dtype" in node:
                found.update(round(float(v), 9) for v in column(node))
            else:
                stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, int | float) and not isinstance(node, bool):
            found.add(round(float(node), 9))
    return found


def find_props(tree: object, key: str, value: object) -> dict | None:
    """The props of the first component in a serialised Dash layout whose ``key`` prop is
    ``value`` (``find_props(layout, "id", "tenant-select")``), or None."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(reversed(node))
        elif isinstance(node, dict):
            props = node.get("props", {})
            if isinstance(props, dict):
                if props.get(key) == value:
                    return props
                stack.extend(props.values())
    return None


def callback_body(dep: dict, values: dict[str, object], changed: str | None = None, partial: bool = False) -> dict:
    """A ``/_dash-update-component`` body for the callback ``dep`` (an entry of the app's
    ``/_dash-dependencies``), with ``values`` by component id. Every input and state must be
    in ``values`` unless ``partial`` (then missing ones are None). ``changed``: the prop that
    fired (default: the first input)."""

    def value(component_id: object) -> object:
        return values.get(component_id) if partial else values[component_id]  # type: ignore[index]

    outputs = [{"id": o.split(".")[0], "property": o.split(".")[1]} for o in dep["output"].strip(".").split("...")]
    first = dep["inputs"][0]
    return {
        "output": dep["output"],
        "outputs": outputs if dep["output"].startswith("..") else outputs[0],  # Dash's single-output form
        "inputs": [{**i, "value": value(i["id"])} for i in dep["inputs"]],
        "state": [{**s, "value": value(s["id"])} for s in dep["state"]],
        "changedPropIds": [changed or f"{first['id']}.{first['property']}"],
    }
