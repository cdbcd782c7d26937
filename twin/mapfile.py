"""Strict loading of mapping files (Sparkplug, OPC UA, Modbus) into pydantic models.

The same rules as the complex config (:mod:`twin.config`): safe YAML without duplicate
keys or alias bombs, unknown keys refused, and every error a :class:`ConfigError` with
the file, the dotted path of the bad key, the reason and the line.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

# _reason and _line_of format pydantic errors exactly as for the complex config; they are
# private there, so this is the one place that depends on them.
from twin.config import _line_of, _reason, load_yaml
from twin.errors import ConfigError
from twin.validation import ModelReferenceError, format_path

__all__ = ["MAX_MAP_BYTES", "load_map", "parse_map", "ModelReferenceError"]

#: A mapping file is hand-written; 4 MiB holds tens of thousands of points.
MAX_MAP_BYTES = 4 * 1024 * 1024

M = TypeVar("M", bound=BaseModel)


def parse_map(
    data: Any,
    model: type[M],
    source: str,
    root: Any = None,
    check: Callable[[M], None] | None = None,
) -> M:
    """Validate parsed YAML into ``model``, then run ``check`` (cross-references).

    ``check`` raises :class:`ModelReferenceError` with the path of the offending key.
    """
    if not isinstance(data, dict):
        raise ConfigError(source, "", f"the top level must be a mapping, got {type(data).__name__}")
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        loc = tuple(first["loc"])
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ConfigError(
            source, format_path(loc), _reason(dict(first)) + more, _line_of(root, loc)
        ) from None
    except RecursionError:
        raise ConfigError(source, "", "document is nested too deeply") from None
    if check is not None:
        try:
            check(parsed)
        except ModelReferenceError as exc:
            raise ConfigError(
                source, format_path(exc.path), exc.reason, _line_of(root, exc.path)
            ) from None
    return parsed


def load_map(
    path: str | os.PathLike[str], model: type[M], check: Callable[[M], None] | None = None
) -> M:
    """Load and validate a mapping file."""
    data, root = load_yaml(path, MAX_MAP_BYTES)
    return parse_map(data, model, str(path), root, check)
