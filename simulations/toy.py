"""Minimal complexes for tests, examples and validation against queueing theory.

``toy_complex([[machine("m1", 10)]])`` is one factory with one line of one
machine; the result is a real :class:`twin.model.Complex`, validated like any
config file, so the same model code runs on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twin.model import Complex

__all__ = ["machine", "toy_complex"]


def machine(
    id: str,
    cycle_s: float,
    *,
    mtbf_h: float = 1000.0,
    mttr_h: float = 1.0,
    scrap_rate: float = 0.0,
    setup_s: float = 0.0,
    power_kw: dict[str, float] | None = None,
) -> dict[str, Any]:
    """A machine entry as in the complex YAML."""
    return {
        "id": id,
        "ideal_cycle_time_s": cycle_s,
        "mtbf_h": mtbf_h,
        "mttr_h": mttr_h,
        "scrap_rate": scrap_rate,
        "setup_time_s": setup_s,
        "power_kw": power_kw or {"idle": 1.0, "busy": 5.0, "setup": 2.0, "down": 0.5},
    }


def toy_complex(
    lines: Sequence[Sequence[dict[str, Any]]],
    *,
    buffer_capacity: int = 10,
    factories: int = 1,
    shifts: Sequence[tuple[str, str, float]] = (),
    trucks: Sequence[dict[str, Any]] = (),
    docks: Sequence[int] = (1,),
    roads: Sequence[Sequence[tuple[float, float]]] = (),
) -> Complex:
    """A site of 2 km x 1 km with zones ``A`` (west) and ``B`` (east).

    ``factories`` copies of a factory with the given ``lines`` (machine and line
    ids get a ``-f{n}`` suffix from the second copy on); factory ``n`` sits in zone
    A if n is even, else B. With ``trucks``, a logistics centre ``hub`` with the
    given docks is added in zone B; ``shifts`` are (name, "HH:MM", hours).
    """
    facs = []
    for n in range(factories):
        suffix = "" if n == 0 else f"-f{n}"
        zone = "A" if n % 2 == 0 else "B"
        x = 200.0 + 150.0 * (n // 2) if zone == "A" else 1200.0 + 150.0 * (n // 2)
        facs.append(
            {
                "id": f"f{n}",
                "zone": zone,
                "position": {"x": x, "y": 500.0},
                "lines": [
                    {
                        "id": f"l{i}{suffix}",
                        "buffer_capacity": buffer_capacity,
                        "machines": [{**m, "id": f"{m['id']}{suffix}"} for m in ms],
                    }
                    for i, ms in enumerate(lines)
                ],
            }
        )
    data: dict[str, Any] = {
        "version": 1,
        "site": {
            "id": "toy",
            "name": "Toy park",
            "width_m": 2000,
            "height_m": 1000,
            "shifts": [{"name": n, "start": s, "hours": h} for n, s, h in shifts],
        },
        "zones": [
            {"id": "A", "area": {"x": 0, "y": 0, "w": 1000, "h": 1000}},
            {"id": "B", "area": {"x": 1000, "y": 0, "w": 1000, "h": 1000}},
        ],
        "tenants": [
            {"id": f"t{n}", "name": f"Tenant {n}", "industry": "other", "factories": [f]} for n, f in enumerate(facs)
        ],
    }
    if trucks:
        data["logistics"] = {
            "centre": {
                "id": "hub",
                "zone": "B",
                "position": {"x": 1800.0, "y": 500.0},
                "docks": [{"id": f"dock-{i}", "capacity": c} for i, c in enumerate(docks)],
            },
            "trucks": list(trucks),
            "roads": [[{"x": x, "y": y} for x, y in road] for road in roads],
        }
    return Complex.model_validate(data)
