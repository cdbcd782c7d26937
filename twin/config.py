"""Load the complex YAML into the typed model, failing fast with file, key path and line."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from twin.errors import ConfigError
from twin.model import Complex
from twin.validation import ModelReferenceError, format_path

__all__ = [
    "MAX_CONFIG_BYTES",
    "load_complex",
    "load_yaml",
    "parse_complex",
    "demo_config_path",
    "tiny_config_path",
    "resolve_config_path",
]

#: A complex config is hand-written text; anything bigger is a mistake or an attack.
MAX_CONFIG_BYTES = 16 * 1024 * 1024
#: Nodes after alias expansion; stops "billion laughs" documents before validation.
MAX_EXPANDED_NODES = 2_000_000


def demo_config_path() -> Path:
    """The shipped demo complex (12 tenants, 4 zones)."""
    return Path(str(resources.files("twin") / "data" / "demo-complex.yaml"))


def tiny_config_path() -> Path:
    """A tiny complex for tests and quick tries."""
    return Path(str(resources.files("twin") / "data" / "tiny-complex.yaml"))


def resolve_config_path(value: str | os.PathLike[str] | None) -> Path:
    """``None``/``demo`` -> the demo complex, ``tiny`` -> the tiny one, else the path."""
    if value is None or str(value) == "demo":
        return demo_config_path()
    if str(value) == "tiny":
        return tiny_config_path()
    return Path(value)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of keeping the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            try:
                dup = key in seen
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "mapping key is not hashable", key_node.start_mark
                ) from None
            if dup:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    got = memo.get(id(node))
    if got is not None:
        return got
    memo[id(node)] = 1  # breaks cycles (recursive aliases)
    if isinstance(node, yaml.MappingNode):
        n = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        n = 1 + sum(_expanded_size(v, memo) for v in node.value)
    else:
        n = 1
    memo[id(node)] = n
    return n


def _line_of(root: yaml.Node | None, path: tuple[Any, ...]) -> int | None:
    """1-based line of the key at ``path`` in the composed YAML, as deep as it resolves."""
    node, line = root, None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                    node, line = v, k.start_mark.line + 1
                    break
            else:
                return line if line is not None else (node.start_mark.line + 1)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def load_yaml(path: str | os.PathLike[str], max_bytes: int | None = None) -> tuple[Any, yaml.Node | None]:
    """Read a YAML file safely: size limit, UTF-8, no duplicate keys, no alias bombs.

    Returns the data and the composed node tree (for locating errors by line).
    """
    src = str(path)
    p = Path(path)
    if max_bytes is None:
        max_bytes = MAX_CONFIG_BYTES
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise ConfigError(src, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(src, "", f"cannot read file: {exc.strerror or exc}") from exc
    except ValueError:  # a NUL byte or a lone surrogate (YAML "\ud800") cannot name a file
        raise ConfigError(src, "", "not a usable file name (NUL or invalid unicode)") from None
    if not p.is_file():
        raise ConfigError(src, "", "not a regular file")
    if size > max_bytes:
        raise ConfigError(src, "", f"file is {size} bytes, more than the limit of {max_bytes}")
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(src, "", f"not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise ConfigError(src, "", f"cannot read file: {exc.strerror or exc}") from exc
    try:
        loader = _UniqueKeyLoader(text)
    except yaml.YAMLError as exc:  # e.g. control characters the reader refuses
        raise ConfigError(src, "", f"invalid YAML: {exc}") from exc
    try:
        root = loader.get_single_node()
        if root is None:
            raise ConfigError(src, "", "the file is empty")
        if _expanded_size(root, {}) > MAX_EXPANDED_NODES:
            raise ConfigError(src, "", f"document expands to more than {MAX_EXPANDED_NODES} nodes")
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = f"invalid YAML: {exc.problem or exc.context}"
        raise ConfigError(src, "", reason, line) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(src, "", f"invalid YAML: {exc}".splitlines()[0]) from exc
    except RecursionError as exc:
        raise ConfigError(src, "", "document is nested too deeply") from exc
    finally:
        loader.dispose()
    return data, root


def _reason(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return f"unknown key {str(err['loc'][-1])!r}"
    if kind == "missing":
        return f"missing required key {str(err['loc'][-1])!r}"
    msg = str(err.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    value = err.get("input")
    if kind != "missing" and not isinstance(value, dict | list) and value is not None:
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        msg += f" (got {shown})"
    return msg


def parse_complex(data: Any, source: str = "<config>", root: yaml.Node | None = None) -> Complex:
    """Validate already-parsed YAML data into a :class:`Complex`."""
    if not isinstance(data, dict):
        raise ConfigError(source, "", f"the top level must be a mapping, got {type(data).__name__}")
    try:
        return Complex.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        loc = tuple(first["loc"])
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ConfigError(source, format_path(loc), _reason(dict(first)) + more, _line_of(root, loc)) from None
    except ModelReferenceError as exc:
        raise ConfigError(source, format_path(exc.path), exc.reason, _line_of(root, exc.path)) from None
    except RecursionError:
        raise ConfigError(source, "", "document is nested too deeply") from None


def load_complex(path: str | os.PathLike[str] | None = None) -> Complex:
    """Load and validate the complex config at ``path`` (``None``: the shipped demo)."""
    p = resolve_config_path(path)
    data, root = load_yaml(p)
    return parse_complex(data, str(p), root)
