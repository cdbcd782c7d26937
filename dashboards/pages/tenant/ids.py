"""Component ids of the tenant portal, shared by its layout, callbacks and tests."""

TICK = "tenant-tick"
TENANT = "tenant-select"
RANGE = "tenant-range"
FACTORIES = "tenant-factories"
OEE = "tenant-oee"
ENERGY = "tenant-energy"
STATUS = "tenant-status"
EXPORT = "tenant-export"
DOWNLOAD = "tenant-download"
ALARMS = "tenant-alarms"
PARETO = "tenant-pareto"  # dcc.Graph: downtime Pareto by cause
PARETO_FACTORY = "tenant-pareto-factory"  # dropdown: all the tenant's factories, or one
PARETO_STATUS = "tenant-pareto-status"
PARETO_TICK = "tenant-pareto-tick"
