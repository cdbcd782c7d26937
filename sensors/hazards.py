"""What disasters do to the hazard sensors: smoke, heat, flame, gas, water and shaking (pure).

:class:`HazardField` learns about incidents (a disaster's onset, its containment, its
end) and answers "how much does the disaster add to this sensor at time t", in the
sensor's own unit. The model-driven fleet (:mod:`sensors.model_source`) adds that to
the sensor's quiet background. Nothing here reads a clock or draws random numbers:
the same incidents give the same field.

Physics, simple but with the right shape (tunables below):

- **fire**: every target factory burns (a disc of :data:`FACTORY_RADIUS_M`). Smoke and
  heat reach a sensor after a delay proportional to its distance from the nearest
  fire, rise with a first-order lag and fall off exponentially with distance, so the
  burning factories' own sensors trip first and neighbours see less, later. Flame
  sensors inside a burning factory read 1 once the fire has grown. After containment
  everything decays.
- **gas leak**: a continuous release at each target factory (or zone centre): a
  Gaussian plume whose width grows with the square root of time (diffusion), so
  concentration rises first near the source and spreads outward.
- **flood**: water level rises in the flooded zones (distance 0 inside the zone) and,
  attenuated and later, in the zones nearby; it recedes slowly after containment.
  The config carries no elevation, so "low" means "near the flooded zone".
- **earthquake**: one main shock from the centre of the target zones (the site centre
  when the whole complex is hit); peak ground acceleration attenuates with distance
  and reaches every zone within a second; shaking builds and decays over about a minute.
- **power outage**: the target factories have no power from onset to containment
  (:meth:`HazardField.power_cut`); hazard sensors are battery-backed and unaffected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from twin.model import Area, Complex, SensorInfo

__all__ = ["Incident", "HazardField", "HAZARD_OVERLAY_KINDS"]

# ---- tunables ---------------------------------------------------------------

#: A factory is a disc of this radius: sensors inside it are "at" the fire or leak.
FACTORY_RADIUS_M = 50.0
#: Fire smoke: optical density at the fire (%obs/m), decay length with distance, how
#: fast the smoke front travels, rise time constant.
FIRE_SMOKE_OBS_M = 20.0
FIRE_SMOKE_SCALE_M = 150.0
FIRE_SMOKE_SPEED_M_S = 0.5
FIRE_SMOKE_RISE_S = 180.0
#: Fire heat: temperature rise at the fire, decay length, rise time constant
#: (heat travels with the smoke front).
FIRE_TEMP_RISE_C = 180.0
FIRE_TEMP_SCALE_M = 80.0
FIRE_TEMP_RISE_S = 300.0
#: A flame detector inside a burning factory trips once the fire has grown this far (0..1).
FLAME_GROWTH = 0.2
#: After containment, smoke and heat decay with this time constant.
FIRE_DECAY_S = 1200.0
#: Gas leak: concentration at the source (ppm of a toxic-gas sensor; %LEL of a
#: flammable-gas one), initial plume width, diffusivity (m^2/s), rise and
#: post-containment decay time constants.
GAS_PEAK_PPM = 600.0
GAS_PEAK_LEL = 40.0
GAS_SIGMA0_M = 50.0
GAS_DIFFUSIVITY_M2_S = 3.0
GAS_RISE_S = 60.0
GAS_DECAY_S = 600.0
#: Flood: water rise in the flooded zone (cm), decay length with distance from the
#: zone, speed of the spreading water, rise and recession time constants.
FLOOD_RISE_CM = 150.0
FLOOD_SCALE_M = 400.0
FLOOD_SPEED_M_S = 0.25
FLOOD_RISE_S = 1800.0
FLOOD_RECEDE_S = 3 * 3600.0
#: Earthquake: peak ground acceleration at the epicentre (g), reference distance of the
#: attenuation PGA(d) = PGA0 / (1 + d / ref) ** EQ_ATTENUATION, wave speed, envelope
#: time constant (the shaking peaks after this long and dies out in about 5 times it).
EQ_PGA_G = 0.3
EQ_REF_M = 1000.0
EQ_ATTENUATION = 1.5
EQ_WAVE_SPEED_M_S = 3000.0
EQ_ENVELOPE_S = 8.0
#: 1 g in gal (cm/s^2).
GAL_PER_G = 980.665
#: Incidents whose effect has decayed below this share of its peak are forgotten.
NEGLIGIBLE = 1e-4

#: Sensor kinds a disaster can add to (power and current are cut, not overlaid).
HAZARD_OVERLAY_KINDS = frozenset({"smoke", "temperature", "flame", "gas", "water_level", "seismic"})

_Pt = tuple[float, float]


@dataclass(slots=True)
class Incident:
    """One disaster as the sensors see it (times in epoch ms)."""

    id: str
    kind: str
    onset_ms: int
    sources: tuple[_Pt, ...]  # fires / leaks: target factories (or zone centres)
    zones: tuple[str, ...]
    factories: tuple[str, ...]
    epicentre: _Pt = (0.0, 0.0)
    contained_ms: int | None = None
    ended: bool = False
    decay_s: float = field(default=0.0)


def _rise(x_s: float, tau_s: float) -> float:
    """0 before the front arrives, then 1 - exp(-x/tau)."""
    return 0.0 if x_s <= 0 else 1.0 - math.exp(-x_s / tau_s)


@dataclass(frozen=True, slots=True)
class _Place:
    point: _Pt | None
    zone: str | None
    factory: str | None
    kind: str
    span: float
    scale: float  # the sensor's unit per unit of the physics (g->gal, ppm->%LEL, cm->m)


class HazardField:
    """The disasters' contribution to every sensor of a complex."""

    def __init__(self, complex_: Complex):
        self.complex = complex_
        self._factory_pos = {
            f.id: (f.position.x, f.position.y) for f in complex_.factories.values()
        }
        self._factory_zone = {f.id: f.zone for f in complex_.factories.values()}
        self._zones = {z.id: z.area for z in complex_.zones}
        self._places = {sid: self._place(info) for sid, info in complex_.sensors.items()}
        self.incidents: list[Incident] = []

    def _place(self, info: SensorInfo) -> _Place:
        s, c = info.sensor, self.complex
        point: _Pt | None = None
        position = getattr(s, "position", None)
        if position is not None:
            point = (position.x, position.y)
        elif info.factory is not None:
            point = self._factory_pos[info.factory]
        elif c.logistics is not None and info.device == c.logistics.centre.id:
            point = (c.logistics.centre.position.x, c.logistics.centre.position.y)
        elif info.device in self._zones:
            a = self._zones[info.device]
            point = (a.x + a.w / 2, a.y + a.h / 2)
        lo, hi = s.range
        scale = {
            "gal": GAL_PER_G,
            "%LEL": GAS_PEAK_LEL / GAS_PEAK_PPM,
            "m": 0.01,
        }.get(s.unit, 1.0)
        return _Place(point, info.zone, info.factory, s.kind, hi - lo, scale)

    # ---- incidents ------------------------------------------------------------------------

    def start(
        self,
        incident_id: str,
        kind: str,
        zones: tuple[str, ...] | list[str],
        factories: tuple[str, ...] | list[str],
        ts_ms: int,
    ) -> Incident:
        """A disaster begins; ``zones``/``factories`` are its targets as the model reports them."""
        zones = tuple(z for z in zones if z in self._zones) or tuple(self._zones)
        factories = tuple(f for f in factories if f in self._factory_pos)
        sources = tuple(self._factory_pos[f] for f in factories) or tuple(
            self._zone_centre(z) for z in zones
        )
        if len(zones) == len(self._zones):
            epicentre = (self.complex.site.width_m / 2, self.complex.site.height_m / 2)
        else:
            centres = [self._zone_centre(z) for z in zones]
            epicentre = (
                sum(p[0] for p in centres) / len(centres),
                sum(p[1] for p in centres) / len(centres),
            )
        decay = {"fire": FIRE_DECAY_S, "gas_leak": GAS_DECAY_S, "flood": FLOOD_RECEDE_S}.get(
            kind, 0.0
        )
        inc = Incident(
            incident_id, kind, ts_ms, sources, zones, factories, epicentre, decay_s=decay
        )
        self.incidents.append(inc)
        return inc

    def contain(self, incident_id: str, ts_ms: int) -> None:
        """The hazard is over (fire out, leak closed, water receding, power back)."""
        for inc in self.incidents:
            if inc.id == incident_id and inc.contained_ms is None:
                inc.contained_ms = ts_ms

    def prune(self, ts_ms: int) -> None:
        """Forget incidents whose effect has decayed away."""
        keep = []
        for inc in self.incidents:
            if inc.kind == "earthquake":
                done = ts_ms - inc.onset_ms > 60 * EQ_ENVELOPE_S * 1000
            elif inc.contained_ms is None:
                done = False
            else:
                left = math.exp(-(ts_ms - inc.contained_ms) / 1000 / max(inc.decay_s, 1.0))
                done = left < NEGLIGIBLE
            if not done:
                keep.append(inc)
        self.incidents = keep

    def _zone_centre(self, zone: str) -> _Pt:
        a = self._zones[zone]
        return (a.x + a.w / 2, a.y + a.h / 2)

    # ---- queries ----------------------------------------------------------------------------

    def power_cut(self, factory_id: str, ts_ms: int) -> bool:
        """True while a power outage hits ``factory_id`` (onset to containment)."""
        for inc in self.incidents:
            if (
                inc.kind == "power_outage"
                and factory_id in inc.factories
                and inc.onset_ms <= ts_ms
                and (inc.contained_ms is None or ts_ms < inc.contained_ms)
            ):
                return True
        return False

    def active(self) -> bool:
        return bool(self.incidents)

    def overlay(self, sensor_id: str, ts_ms: int) -> float:
        """What the disasters add to ``sensor_id`` at ``ts_ms``, in its unit (0 when quiet)."""
        if not self.incidents:
            return 0.0
        pl = self._places.get(sensor_id)
        if pl is None or pl.point is None or pl.kind not in HAZARD_OVERLAY_KINDS:
            return 0.0
        total = 0.0
        for inc in self.incidents:
            if ts_ms < inc.onset_ms:
                continue
            if inc.kind == "fire" and pl.kind in ("smoke", "temperature", "flame"):
                total += self._fire(inc, pl, ts_ms)
            elif inc.kind == "gas_leak" and pl.kind == "gas":
                total += self._gas(inc, pl, ts_ms)
            elif inc.kind == "flood" and pl.kind == "water_level":
                total += self._flood(inc, pl, ts_ms)
            elif inc.kind == "earthquake" and pl.kind == "seismic":
                total += self._quake(inc, pl, ts_ms)
        return total

    # ---- physics ------------------------------------------------------------------------

    @staticmethod
    def _after(inc: Incident, ts_ms: int, front_s: float, tau_s: float) -> float:
        """Rise since the front arrived, frozen at containment and decaying after it."""
        end = ts_ms if inc.contained_ms is None else min(ts_ms, inc.contained_ms)
        level = _rise((end - inc.onset_ms) / 1000 - front_s, tau_s)
        if inc.contained_ms is not None and ts_ms > inc.contained_ms:
            level *= math.exp(-(ts_ms - inc.contained_ms) / 1000 / max(inc.decay_s, 1.0))
        return level

    def _nearest(self, inc: Incident, p: _Pt) -> float:
        d = min(math.dist(p, s) for s in inc.sources)
        return max(0.0, d - FACTORY_RADIUS_M)

    def _fire(self, inc: Incident, pl: _Place, ts_ms: int) -> float:
        assert pl.point is not None
        d = self._nearest(inc, pl.point)
        front = d / FIRE_SMOKE_SPEED_M_S
        if pl.kind == "smoke":
            grow = self._after(inc, ts_ms, front, FIRE_SMOKE_RISE_S)
            return FIRE_SMOKE_OBS_M * math.exp(-d / FIRE_SMOKE_SCALE_M) * grow
        if pl.kind == "temperature":
            grow = self._after(inc, ts_ms, front, FIRE_TEMP_RISE_S)
            return FIRE_TEMP_RISE_C * math.exp(-d / FIRE_TEMP_SCALE_M) * grow
        # flame: only inside a burning factory, once the fire has grown (and until it is out)
        if d > 0 or (inc.contained_ms is not None and ts_ms >= inc.contained_ms):
            return 0.0
        grow = _rise((ts_ms - inc.onset_ms) / 1000, FIRE_SMOKE_RISE_S)
        return pl.span if grow >= FLAME_GROWTH else 0.0

    def _gas(self, inc: Incident, pl: _Place, ts_ms: int) -> float:
        assert pl.point is not None
        d = self._nearest(inc, pl.point)
        end = ts_ms if inc.contained_ms is None else min(ts_ms, inc.contained_ms)
        x = (end - inc.onset_ms) / 1000
        if x <= 0:
            return 0.0
        sigma = GAS_SIGMA0_M + math.sqrt(2 * GAS_DIFFUSIVITY_M2_S * x)
        level = _rise(x, GAS_RISE_S) * math.exp(-(d * d) / (2 * sigma * sigma))
        if inc.contained_ms is not None and ts_ms > inc.contained_ms:
            level *= math.exp(-(ts_ms - inc.contained_ms) / 1000 / GAS_DECAY_S)
        return GAS_PEAK_PPM * pl.scale * level

    def _flood(self, inc: Incident, pl: _Place, ts_ms: int) -> float:
        assert pl.point is not None
        d = min(_to_area(pl.point, self._zones[z]) for z in inc.zones)
        grow = self._after(inc, ts_ms, d / FLOOD_SPEED_M_S, FLOOD_RISE_S)
        return FLOOD_RISE_CM * pl.scale * math.exp(-d / FLOOD_SCALE_M) * grow

    def _quake(self, inc: Incident, pl: _Place, ts_ms: int) -> float:
        assert pl.point is not None
        d = math.dist(pl.point, inc.epicentre)
        x = (ts_ms - inc.onset_ms) / 1000 - d / EQ_WAVE_SPEED_M_S
        if x <= 0:
            return 0.0
        envelope = (x / EQ_ENVELOPE_S) * math.exp(1.0 - x / EQ_ENVELOPE_S)
        pga = EQ_PGA_G / (1.0 + d / EQ_REF_M) ** EQ_ATTENUATION
        return pga * envelope * pl.scale


def _to_area(p: _Pt, a: Area) -> float:
    """Distance from ``p`` to a zone rectangle (0 inside)."""
    x0, y0 = a.x, a.y
    x1, y1 = x0 + a.w, y0 + a.h
    dx = max(x0 - p[0], 0.0, p[0] - x1)
    dy = max(y0 - p[1], 0.0, p[1] - y1)
    return math.hypot(dx, dy)
