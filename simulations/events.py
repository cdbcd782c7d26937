"""Events the model hands to an injected sink, stamped with the simulation clock.

The model never publishes anything itself: a caller passes ``sink=callable`` to
:func:`simulations.model.build_model` and receives one :class:`SimEvent` per
change. The sensor fleet turns them into MQTT messages; tests collect them in a
list. A sink that raises stops the simulation (fail fast: it is the caller's code).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "SimEvent",
    "Sink",
    "MACHINE_STATE",
    "MACHINE_COUNT",
    "BUFFER_LEVEL",
    "ORDER_RELEASED",
    "ORDER_COMPLETED",
    "TRUCK_MOVE",
    "TRUCK_ARRIVE",
    "DOCK_OCCUPANCY",
    "SHIPMENT_DELIVERED",
    "DISASTER",
    "EVENT_KINDS",
]

#: A machine's reported state changed (also sent once per machine when the model
#: starts, so a consumer knows every state at t0). data: state (MachineState value), reason
#: (off, starved, blocked, busy, setup, failure, disaster), power_kw, factory, line.
MACHINE_STATE = "machine.state"
#: A machine finished a lot. data: produced, good, scrap (cumulative counters since
#: the model was built), lot (units in the lot), product, factory, line.
MACHINE_COUNT = "machine.count"
#: Units waiting in front of a machine changed. data: units, lots, capacity, line.
BUFFER_LEVEL = "buffer.level"
#: An order (lot) was released to a factory (source: the factory). data: order, product, quantity.
ORDER_RELEASED = "order.released"
#: A lot left the end of its line (source: the factory). data: order, product, good,
#: lead_time_s (since the order was released), line.
ORDER_COMPLETED = "order.completed"
#: A truck started to drive. data: origin, destination, distance_m, eta, load, request.
TRUCK_MOVE = "truck.move"
#: A truck reached a place. data: location, load.
TRUCK_ARRIVE = "truck.arrive"
#: Occupied dock places at the logistics centre changed. data: occupied, capacity.
DOCK_OCCUPANCY = "dock.occupancy"
#: A transport request was completed. data: kind, origin, destination, packs, on_time, tenant.
SHIPMENT_DELIVERED = "shipment.delivered"
#: A disaster changed phase. data: phase (start, response, contained, restarted,
#: recovered), kind, zones, factories, id.
DISASTER = "disaster"

EVENT_KINDS = frozenset(
    {
        MACHINE_STATE,
        MACHINE_COUNT,
        BUFFER_LEVEL,
        ORDER_RELEASED,
        ORDER_COMPLETED,
        TRUCK_MOVE,
        TRUCK_ARRIVE,
        DOCK_OCCUPANCY,
        SHIPMENT_DELIVERED,
        DISASTER,
    }
)


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One thing that happened in the model.

    ``time`` is ``env.now`` in seconds of simulation time (0 = 00:00 site time of
    the first simulated day), ``kind`` one of :data:`EVENT_KINDS`, ``source`` the
    asset id (machine, line, truck, centre, disaster id), ``data`` the kind's fields.
    """

    time: float
    kind: str
    source: str
    data: Mapping[str, Any]


Sink = Callable[[SimEvent], None]
