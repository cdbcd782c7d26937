# The twin image: the `twin` CLI and its plugins (ingest, dashboard, sensors, ...).
# Build: docker build -t sandan-twin:0.1.0 .   (docker-compose.yml builds it for you)

FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY twin ./twin
COPY sensors ./sensors
COPY simulations ./simulations
COPY dashboards ./dashboards
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/twin twin \
    && mkdir -p /var/lib/twin/spool /var/lib/twin/live /var/lib/twin/dashboard \
    && chown -R twin:twin /var/lib/twin
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY docker/healthcheck.py /usr/local/bin/twin-healthcheck
COPY docker/twin-entrypoint.sh /usr/local/bin/twin-entrypoint
RUN sed -i '1i #!/usr/local/bin/python' /usr/local/bin/twin-healthcheck \
    && chmod 0755 /usr/local/bin/twin-healthcheck /usr/local/bin/twin-entrypoint
USER twin
WORKDIR /var/lib/twin
# The spool and the live twin's journal are named volumes in docker-compose.yml; they
# start owned by twin.
VOLUME ["/var/lib/twin/spool", "/var/lib/twin/live"]
ENTRYPOINT ["twin-entrypoint"]
CMD ["--help"]
