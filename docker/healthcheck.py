"""Container health check for the twin image: exit 0 when the target answers.

twin-healthcheck http://127.0.0.1:9108/health   # 2xx within the timeout
twin-healthcheck tcp://mosquitto:1883           # a TCP connection opens
"""

from __future__ import annotations

import socket
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

TIMEOUT_S = 3.0


def main(target: str) -> int:
    parts = urlsplit(target)
    try:
        if parts.scheme == "tcp":
            with socket.create_connection((parts.hostname, parts.port), TIMEOUT_S):
                return 0
        with urllib.request.urlopen(target, timeout=TIMEOUT_S) as resp:  # noqa: S310 - fixed local URL
            return 0 if 200 <= resp.status < 300 else 1
    except (OSError, urllib.error.URLError) as exc:
        sys.stderr.write(f"unhealthy: {target}: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8050/health"))
