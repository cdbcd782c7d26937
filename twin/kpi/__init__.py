"""Live KPIs (ISO 22400-2 OEE, throughput, energy per unit) per shift and day (see docs/live.md)."""

from twin.kpi.oee import OeeElements
from twin.kpi.periods import Period, SiteCalendar
from twin.kpi.tracker import GROUP_KPIS, MACHINE_KPIS, PERIODS, KpiTracker, kpi_series_id

__all__ = [
    "GROUP_KPIS",
    "MACHINE_KPIS",
    "PERIODS",
    "KpiTracker",
    "OeeElements",
    "Period",
    "SiteCalendar",
    "kpi_series_id",
]
