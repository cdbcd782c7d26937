"""The simulated sensor fleet: plausible signals for every sensor of a complex, published on MQTT.

Pure core: :mod:`sensors.signals` (what each sensor reads), :mod:`sensors.machines`,
:mod:`sensors.logistics`, :mod:`sensors.shifts` (the processes behind the signals) and
:mod:`sensors.fleet` (who is due when, and the simulated clock). Adapters:
:mod:`sensors.publisher` (MQTT), :mod:`sensors.record` (JSON lines), :mod:`sensors.runner`
(the paced loop) and :mod:`sensors.cli` (``twin sensors``). Swap the signal source by
passing any :class:`SignalSource` to :class:`sensors.runner.FleetRunner`.
"""

from sensors.fleet import DueBatch, FleetSchedule, SimClock
from sensors.signals import SignalSource, SyntheticSource, UnknownSensor

__all__ = [
    "DueBatch",
    "FleetSchedule",
    "SignalSource",
    "SimClock",
    "SyntheticSource",
    "UnknownSensor",
]
