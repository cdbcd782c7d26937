"""Reliable ingest: MQTT telemetry -> validation -> historian (or spool) -> acknowledgement."""

from twin.ingest.spool import Spool, SpoolFull
from twin.ingest.writer import BatchWriter, Inbound, WriterSettings

__all__ = ["BatchWriter", "Inbound", "Spool", "SpoolFull", "WriterSettings"]
