#!/bin/sh
# Writes the Mosquitto password file from the passwords in .env, refusing empty or
# placeholder values, then hands over to the image's own entrypoint.
set -eu

PASSWD_DIR=/mosquitto/secrets
PASSWD_FILE="$PASSWD_DIR/passwd"

check() {
    name="$1"
    eval "value=\${$name:-}"
    case "$value" in
        "" ) echo "mosquitto: $name is empty; set it in .env (see .env.example)" >&2; exit 2 ;;
        CHANGE_ME* ) echo "mosquitto: $name still holds the placeholder from .env.example; set a real password" >&2; exit 2 ;;
        *:* ) echo "mosquitto: $name must not contain ':'" >&2; exit 2 ;;
    esac
}

for var in TWIN_MQTT_INGEST_PASSWORD TWIN_MQTT_SENSORS_PASSWORD TWIN_MQTT_LIVE_PASSWORD \
           TWIN_MQTT_DASHBOARD_PASSWORD TWIN_MQTT_HEALTH_PASSWORD; do
    check "$var"
done

mkdir -p "$PASSWD_DIR"
umask 077
# Plain "user:password" lines, then hashed in place: passwords never appear in argv.
{
    printf 'twin-ingest:%s\n' "$TWIN_MQTT_INGEST_PASSWORD"
    printf 'twin-sensors:%s\n' "$TWIN_MQTT_SENSORS_PASSWORD"
    printf 'twin-live:%s\n' "$TWIN_MQTT_LIVE_PASSWORD"
    printf 'twin-dashboard:%s\n' "$TWIN_MQTT_DASHBOARD_PASSWORD"
    printf 'twin-healthcheck:%s\n' "$TWIN_MQTT_HEALTH_PASSWORD"
} > "$PASSWD_FILE"
mosquitto_passwd -U "$PASSWD_FILE"
chown mosquitto:mosquitto "$PASSWD_DIR" "$PASSWD_FILE"
chmod 0700 "$PASSWD_DIR"
chmod 0600 "$PASSWD_FILE"

exec /docker-entrypoint.sh "$@"
