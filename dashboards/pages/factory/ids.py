"""Component ids of the factory view, shared by its layout, callbacks and tests."""

TICK = "factory-tick"
HEADER = "factory-header"  # factory name, tenant, zone; or the list of factories one may open
TILES = "factory-tiles"  # each tile is "factory-tile-{key}"
MACHINES = "factory-machines"  # lines and machines with their current state
RANGE = "factory-range"
TIMELINE = "factory-timeline"
TIMELINE_STATUS = "factory-timeline-status"
SENSOR = "factory-sensor"
TREND = "factory-trend"
TREND_STATUS = "factory-trend-status"
