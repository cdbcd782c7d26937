"""Options for the sensor picker: grouped by factory / device, with disabled group headers.

``dcc.Dropdown`` has no option groups, so each group starts with a disabled header
option whose value (``group:<key>``) can never be a sensor id.
"""

from __future__ import annotations

from dashboards.site import GROUP_PREFIX, SiteIndex

__all__ = ["sensor_options"]


def sensor_options(site: SiteIndex, asset_id: str | None = None) -> list[dict[str, object]]:
    """Dropdown options of every sensor, or only the sensors of one asset."""
    options: list[dict[str, object]] = []
    for group in site.groups:
        if asset_id is not None and group.asset_id != asset_id:
            continue
        options.append(
            {"label": f"— {group.title} —", "value": GROUP_PREFIX + group.key, "disabled": True}
        )
        options.extend(
            # The label holds the sensor id; the search adds the group's name ("Beta resin").
            {"label": site.sensor_label(sid), "value": sid, "search": group.title}
            for sid in group.sensor_ids
        )
    return options
