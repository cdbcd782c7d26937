"""Bridges from plant protocols to the MQTT telemetry contract: OPC UA and Modbus TCP.

Pure parts: :mod:`~twin.bridges.maps` (mapping files), :mod:`~twin.bridges.modbus_codec`
(register decoding, read planning), :mod:`~twin.bridges.backoff`. Adapters:
:mod:`~twin.bridges.opcua` (asyncua), :mod:`~twin.bridges.modbus` (pymodbus) and the
disk-buffered publisher :mod:`~twin.bridges.outbox`. See docs/devices.md.
"""

from twin.bridges.backoff import Backoff
from twin.bridges.maps import ModbusMap, OpcUaMap, load_modbus_map, load_opcua_map
from twin.bridges.modbus_codec import ReadBlock, decode_registers, plan_reads

__all__ = [
    "Backoff",
    "ModbusMap",
    "OpcUaMap",
    "ReadBlock",
    "decode_registers",
    "load_modbus_map",
    "load_opcua_map",
    "plan_reads",
]
