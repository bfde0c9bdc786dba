"""Amaranth HDL of sparsecore.

Blocks: :class:`MetadataDecoder`, :class:`OperandSelector`, :class:`DotProductArray`, the
core :class:`SparseMMA` and its flat-port Verilog top :class:`FlatSparseMMA`, all elaborated
from a :class:`CoreConfig`. :func:`hw.gen.emit` turns a configuration into Verilog.
"""

from .config import ConfigError, CoreConfig
from .core import SparseMMA
from .decoder import MetadataDecoder
from .dot import DotProductArray
from .selector import OperandSelector
from .top import FlatSparseMMA

__all__ = [
    "CoreConfig",
    "ConfigError",
    "MetadataDecoder",
    "OperandSelector",
    "DotProductArray",
    "SparseMMA",
    "FlatSparseMMA",
]
