"""Probability distributions for processing, failure, repair, setup and arrival times.

A :class:`Distribution` is an immutable, validated description (``dist: lognormal,
mean: 30, cv: 0.2``); :meth:`Distribution.sampler` binds it to one random stream.
Samplers draw in blocks of :data:`BLOCK` values with numpy and hand them out one by
one, because a numpy call per draw would dominate the run time of a large model.

Times are in seconds unless a spec says ``unit: min | h | d``. ``unit: relative``
makes every value a multiple of a reference the model supplies (the machine's
ideal cycle time, MTBF, MTTR or setup time); resolve it with :meth:`Distribution.resolve`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "BLOCK",
    "KINDS",
    "UNITS",
    "Distribution",
    "Sampler",
    "parse_distribution",
    "constant",
    "exponential",
]

#: Values drawn per numpy call; large enough to amortise the call, small enough to
#: keep memory flat with hundreds of streams.
BLOCK = 512

#: Seconds per unit of a spec's ``unit`` key.
UNITS: dict[str, float] = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}

#: Parameters each kind takes, in the order they are stored.
KINDS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "exponential": ("mean",),
    "normal": ("mean", "sd"),
    "lognormal": ("mean", "sd"),
    "gamma": ("mean", "sd"),
    "triangular": ("low", "mode", "high"),
    "uniform": ("low", "high"),
    "weibull": ("shape", "scale"),
    "empirical": (),
}

_SPREAD = frozenset({"normal", "lognormal", "gamma"})  # accept cv instead of sd


@dataclass(frozen=True, slots=True)
class Distribution:
    """A non-negative random quantity (a duration, or a count for lot sizes).

    Fails fast on construction, like SimPy's resources, naming the offending value.
    """

    kind: str
    params: tuple[float, ...] = ()
    values: tuple[float, ...] = ()
    weights: tuple[float, ...] = ()
    relative: bool = False

    def __post_init__(self) -> None:
        names = KINDS.get(self.kind)
        if names is None:
            raise ValueError(f'"dist" must be one of {sorted(KINDS)} (got {self.kind!r})')
        if len(self.params) != len(names):
            raise ValueError(f"{self.kind} takes parameters {list(names)} (got {list(self.params)})")
        for name, v in zip(names, self.params, strict=True):
            if not math.isfinite(v):
                raise ValueError(f'"{name}" must be a finite number (got {v!r})')
        p = dict(zip(names, self.params, strict=True))
        k = self.kind
        if k == "constant" and p["value"] < 0:
            raise ValueError(f'"value" must be >= 0 (got {p["value"]!r})')
        if k in ("exponential", "lognormal", "gamma") and p["mean"] <= 0:
            raise ValueError(f'"mean" must be > 0 (got {p["mean"]!r})')
        if k == "normal" and p["mean"] < 0:
            raise ValueError(f'"mean" must be >= 0 (got {p["mean"]!r})')
        if k in _SPREAD and p["sd"] < 0:
            raise ValueError(f'"sd" must be >= 0 (got {p["sd"]!r})')
        if k in ("gamma",) and p["sd"] == 0:
            raise ValueError('"sd" must be > 0 for gamma; use constant for a fixed value')
        if k == "triangular":
            if p["low"] < 0:
                raise ValueError(f'"low" must be >= 0 (got {p["low"]!r})')
            if not p["low"] <= p["mode"] <= p["high"] or p["low"] == p["high"]:
                raise ValueError(
                    f"triangular needs low <= mode <= high and low < high (got {p['low']}, {p['mode']}, {p['high']})"
                )
        if k == "uniform" and not 0 <= p["low"] < p["high"]:
            raise ValueError(f"uniform needs 0 <= low < high (got {p['low']}, {p['high']})")
        if k == "weibull" and (p["shape"] <= 0 or p["scale"] <= 0):
            raise ValueError(f'"shape" and "scale" must be > 0 (got {p["shape"]}, {p["scale"]})')
        if k == "empirical":
            if not self.values:
                raise ValueError('"values" must be a non-empty list of numbers')
            if any((not math.isfinite(v)) or v < 0 for v in self.values):
                raise ValueError(f'"values" must be finite numbers >= 0 (got {list(self.values)[:5]})')
            if self.weights:
                if len(self.weights) != len(self.values):
                    raise ValueError(
                        f'"weights" must have one entry per value ({len(self.values)}), got {len(self.weights)}'
                    )
                if any((not math.isfinite(w)) or w < 0 for w in self.weights) or sum(self.weights) <= 0:
                    raise ValueError('"weights" must be numbers >= 0 with a positive sum')
        elif self.values or self.weights:
            raise ValueError(f'"values"/"weights" belong to empirical, not {self.kind}')

    # ---- description ---------------------------------------------------------

    @property
    def mean(self) -> float:
        """The expected value (for normal: of the untruncated distribution)."""
        k, p = self.kind, self.params
        if k in ("constant", "exponential", "normal", "lognormal", "gamma"):
            return p[0]
        if k == "triangular":
            return (p[0] + p[1] + p[2]) / 3.0
        if k == "uniform":
            return (p[0] + p[1]) / 2.0
        if k == "weibull":
            return p[1] * math.gamma(1.0 + 1.0 / p[0])
        w = self.weights or (1.0,) * len(self.values)
        return sum(v * x for v, x in zip(self.values, w, strict=True)) / sum(w)

    @property
    def is_constant(self) -> bool:
        return self.kind == "constant"

    def scaled(self, factor: float) -> Distribution:
        """The same shape with every value multiplied by ``factor`` (> 0)."""
        if not factor > 0 or not math.isfinite(factor):
            raise ValueError(f'"factor" must be a finite number > 0 (got {factor!r})')
        params: tuple[float, ...]
        if self.kind == "weibull":
            params = (self.params[0], self.params[1] * factor)
        else:
            params = tuple(v * factor for v in self.params)
        return Distribution(self.kind, params, tuple(v * factor for v in self.values), self.weights, self.relative)

    def resolve(self, reference: float) -> Distribution:
        """Turn a relative spec into absolute seconds (no-op for absolute specs)."""
        if not self.relative:
            return self
        if not reference > 0:
            raise ValueError(f"a relative distribution needs a reference > 0 (got {reference!r})")
        out = self.scaled(reference)
        return Distribution(out.kind, out.params, out.values, out.weights, False)

    def sampler(self, rng: np.random.Generator) -> Sampler:
        """Bind to a random stream. Raises if the spec is still relative."""
        if self.relative:
            raise ValueError("resolve a relative distribution against its reference before sampling")
        return Sampler(self, rng)

    def describe(self) -> str:
        names = KINDS[self.kind]
        if self.kind == "empirical":
            return f"empirical({len(self.values)} values)"
        args = ", ".join(f"{n}={v:g}" for n, v in zip(names, self.params, strict=True))
        return f"{self.kind}({args}{', relative' if self.relative else ''})"


def constant(value: float) -> Distribution:
    """A fixed value."""
    return Distribution("constant", (float(value),))


def exponential(mean: float) -> Distribution:
    """Exponential with the given mean."""
    return Distribution("exponential", (float(mean),))


class Sampler:
    """Draws from one distribution with one ``numpy`` generator, in blocks."""

    __slots__ = ("_dist", "_rng", "_buf", "_i", "_const", "_gen")

    def __init__(self, dist: Distribution, rng: np.random.Generator):
        self._dist = dist
        self._rng = rng
        self._const: float | None = dist.params[0] if dist.kind == "constant" else None
        self._gen = _block_generator(dist)
        self._buf: list[float] = []
        self._i = 0

    @property
    def distribution(self) -> Distribution:
        return self._dist

    def _refill(self) -> None:
        self._buf = self._gen(self._rng, BLOCK)
        self._i = 0

    def draw(self) -> float:
        """One value."""
        if self._const is not None:
            return self._const
        i = self._i
        if i >= len(self._buf):
            self._refill()
            i = 0
        self._i = i + 1
        return self._buf[i]

    def draw_sum(self, n: int) -> float:
        """The sum of ``n`` independent values (the work of a lot of ``n`` units)."""
        if self._const is not None:
            return self._const * n
        if n == 1:
            return self.draw()
        total = 0.0
        while n > 0:
            i = self._i
            avail = len(self._buf) - i
            if avail <= 0:
                self._refill()
                continue
            take = n if n < avail else avail
            total += sum(self._buf[i : i + take])
            self._i = i + take
            n -= take
        return total


def _block_generator(d: Distribution) -> Any:
    """A function (rng, n) -> list of n draws, for the distribution's kind."""
    k, p = d.kind, d.params
    if k == "constant":
        v = p[0]
        return lambda rng, n: [v] * n
    if k == "exponential":
        mean = p[0]
        return lambda rng, n: rng.exponential(mean, n).tolist()
    if k == "normal":
        mean, sd = p

        def normal(rng: np.random.Generator, n: int) -> list[float]:
            # Truncated at zero by rejection (a duration cannot be negative).
            out: list[float] = []
            while len(out) < n:
                x = rng.normal(mean, sd, n)
                out.extend(x[x >= 0].tolist())
            return out[:n]

        return normal
    if k == "lognormal":
        mean, sd = p
        s2 = math.log1p((sd / mean) ** 2)
        mu, sigma = math.log(mean) - s2 / 2.0, math.sqrt(s2)
        return lambda rng, n: rng.lognormal(mu, sigma, n).tolist()
    if k == "gamma":
        mean, sd = p
        shape, scale = (mean / sd) ** 2, sd * sd / mean
        return lambda rng, n: rng.gamma(shape, scale, n).tolist()
    if k == "triangular":
        lo, mode, hi = p
        return lambda rng, n: rng.triangular(lo, mode, hi, n).tolist()
    if k == "uniform":
        lo, hi = p
        return lambda rng, n: rng.uniform(lo, hi, n).tolist()
    if k == "weibull":
        shape, scale = p
        return lambda rng, n: (scale * rng.weibull(shape, n)).tolist()
    values = np.asarray(d.values, dtype=float)
    probs = None
    if d.weights:
        w = np.asarray(d.weights, dtype=float)
        probs = w / w.sum()
    return lambda rng, n: rng.choice(values, size=n, p=probs).tolist()


_COMMON_KEYS = frozenset({"dist", "unit"})


def _number(spec: Mapping[str, Any], key: str) -> float:
    v = spec[key]
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f'"{key}" must be a number (got {v!r})')
    return float(v)


def parse_distribution(spec: Any) -> Distribution:
    """Parse a YAML spec: a bare number (constant) or ``{dist: KIND, ...params, unit}``.

    ``normal``, ``lognormal`` and ``gamma`` take ``sd`` or ``cv`` (sd / mean);
    ``empirical`` takes ``values`` and optional ``weights``. Raises ``ValueError``
    with the offending key and value.
    """
    if isinstance(spec, Distribution):
        return spec
    if isinstance(spec, bool):
        raise ValueError(f"a distribution must be a number or a mapping with 'dist' (got {spec!r})")
    if isinstance(spec, int | float):
        return Distribution("constant", (float(spec),))
    if not isinstance(spec, Mapping):
        raise ValueError(f"a distribution must be a number or a mapping with 'dist' (got {type(spec).__name__})")
    kind = spec.get("dist")
    if kind is None:
        raise ValueError("missing key 'dist' (one of " + ", ".join(sorted(KINDS)) + ")")
    if kind not in KINDS:
        raise ValueError(f"unknown dist {kind!r}; use one of {', '.join(sorted(KINDS))}")
    unit = spec.get("unit", "s")
    relative = unit == "relative"
    if not relative and unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; use one of {', '.join([*UNITS, 'relative'])}")
    factor = 1.0 if relative else UNITS[unit]
    names = KINDS[kind]
    allowed = set(names) | _COMMON_KEYS
    if kind in _SPREAD:
        allowed |= {"cv"}
    if kind == "empirical":
        allowed |= {"values", "weights"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} for dist {kind!r}; allowed: {sorted(allowed)}")
    if kind == "empirical":
        values = spec.get("values")
        if not isinstance(values, Sequence) or isinstance(values, str) or not values:
            raise ValueError('"values" must be a non-empty list of numbers')
        vals = tuple(_number({"values": v}, "values") * factor for v in values)
        weights_raw = spec.get("weights") or ()
        if not isinstance(weights_raw, Sequence) or isinstance(weights_raw, str):
            raise ValueError('"weights" must be a list of numbers')
        weights = tuple(_number({"weights": w}, "weights") for w in weights_raw)
        return Distribution("empirical", (), vals, weights, relative)
    params: list[float] = []
    for name in names:
        if name == "sd" and "sd" not in spec and "cv" in spec:
            cv = _number(spec, "cv")
            if cv < 0:
                raise ValueError(f'"cv" must be >= 0 (got {cv!r})')
            params.append(params[0] * cv)  # mean already scaled
            continue
        if name not in spec:
            extra = " (or 'cv')" if name == "sd" else ""
            raise ValueError(f"dist {kind!r} needs key {name!r}{extra}")
        v = _number(spec, name)
        params.append(v if name == "shape" else v * factor)
    if kind in _SPREAD and "sd" in spec and "cv" in spec:
        raise ValueError("give either 'sd' or 'cv', not both")
    if kind == "lognormal" and params[1] == 0:
        return Distribution("constant", (params[0],), relative=relative)
    return Distribution(kind, tuple(params), relative=relative)
