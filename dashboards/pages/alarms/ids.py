"""Component ids of the alarm console, shared by its layout, callbacks and tests."""

TICK = "alarms-tick"
BANNER = "alarms-banner"
TABLE = "alarms-table"
COMMENT = "alarms-comment"
SHELVE_FOR = "alarms-shelve-for"
STATUS = "alarms-status"
#: Pattern-matching id type of the per-alarm buttons: {"type": ACTION, "action": ..., "alarm": id}.
ACTION = "alarms-action"
MAP = "alarms-map"  # dcc.Graph: the site map, zones of active alarms highlighted, detectors, trucks
MAP_TICK = "alarms-map-tick"  # dcc.Interval: the map's refresh of detector and truck readings
DIGEST = "alarms-digest"  # dcc.Store: digest of the list shown, so an unchanged list is not re-drawn
#: Audible cue: ids of critical alarms waiting for an operator (server), those already announced
#: (browser, session storage), the mute toggle and what the sound is doing.
CRITICAL = "alarms-critical"
HEARD = "alarms-heard"
MUTE = "alarms-mute"
SOUND_STATUS = "alarms-sound-status"
#: Alarm history (from the live twin's journal) and its filters.
HISTORY_TICK = "alarms-history-tick"
HISTORY_RANGE = "alarms-history-range"
HISTORY_DATES = "alarms-history-dates"  # dcc.DatePickerRange: start_date / end_date override the range
HISTORY_ZONE = "alarms-history-zone"
HISTORY_TENANT = "alarms-history-tenant"
HISTORY_SEVERITY = "alarms-history-severity"
HISTORY_TYPE = "alarms-history-type"
HISTORY_STATE = "alarms-history-state"
HISTORY_STATUS = "alarms-history-status"
HISTORY_TABLE = "alarms-history-table"
