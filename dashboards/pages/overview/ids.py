"""Component ids of the overview page, shared by its layout, callbacks and tests.

Prefixed with the page name so other pages never collide with them.
"""

SELECTION = "overview-selection"  # dcc.Store: {"sensor": id | None, "asset": id | None}
TICK = "overview-tick"
SITEMAP = "overview-sitemap"
MAP_LEGEND = "overview-map-legend"
SENSOR = "overview-sensor"
#: dcc.Interval firing once, shortly after the first load: fills the picker's full list.
PICKER_FILL = "overview-picker-fill"
SHOW_ALL = "overview-show-all"
FOCUS = "overview-focus"
RANGE = "overview-range"
TREND = "overview-trend"
TREND_STATUS = "overview-trend-status"
TILES = "overview-tiles"  # the complex KPI tiles; each tile is "overview-tile-{key}"
FACTORY_LINK = "overview-factory-link"  # "Open factory view" for the factory clicked on the map
