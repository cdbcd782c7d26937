"""Reading figures as Dash sends them: numpy columns travel as plotly's base64 typed arrays."""

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
