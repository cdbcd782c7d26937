"""The twin core: the model of the complex, the MQTT contract, codecs, historians, ingest."""

from twin.codec import Codec, Reading, Reason
from twin.config import load_complex
from twin.errors import ConfigError, HistorianError, HistorianUnavailable, TwinError, UrlError
from twin.model import Complex

__all__ = [
    "Codec",
    "Complex",
    "ConfigError",
    "HistorianError",
    "HistorianUnavailable",
    "Reading",
    "Reason",
    "TwinError",
    "UrlError",
    "load_complex",
]
