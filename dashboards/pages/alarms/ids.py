"""Component ids of the alarm console, shared by its layout, callbacks and tests."""

TICK = "alarms-tick"
BANNER = "alarms-banner"
TABLE = "alarms-table"
COMMENT = "alarms-comment"
SHELVE_FOR = "alarms-shelve-for"
STATUS = "alarms-status"
#: Pattern-matching id type of the per-alarm buttons: {"type": ACTION, "action": ..., "alarm": id}.
ACTION = "alarms-action"
DIGEST = "alarms-digest"  # dcc.Store: digest of the list shown, so an unchanged list is not re-drawn
