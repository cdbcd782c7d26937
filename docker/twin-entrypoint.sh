#!/bin/sh
# Entrypoint of the twin image: refuse secrets still holding the .env.example
# placeholder, then run the `twin` command with the container's arguments.
set -eu
for name in INFLUXDB_TOKEN TWIN_MQTT_PASSWORD; do
    eval "value=\${$name:-}"
    case "$value" in
        CHANGE_ME*) echo "twin: $name still holds the placeholder from .env.example; set a real secret in .env" >&2; exit 2 ;;
    esac
done
exec twin "$@"
