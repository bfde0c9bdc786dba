"""Flat-port wrapper of :class:`SparseMMA` for the emitted Verilog (architecture.md §6)."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config import CoreConfig
from .core import SparseMMA, a_layout, b_layout, d_layout

__all__ = ["FlatSparseMMA"]


class FlatSparseMMA(wiring.Component):
    """:class:`SparseMMA` with plain bit-vector ports, one per field (architecture.md §6).

    Multi-element ports pack element 0 at the least-significant bits: ``a_values`` element
    ``(r, j)`` at bit ``(r*kept_k + j)*a_width``, ``a_meta`` row ``r`` at ``r*meta_width``,
    ``b_data`` element ``(k, c)`` at ``(k*tile_n + c)*b_width``, ``d_data`` element ``(r, c)``
    at ``(r*tile_n + c)*acc_width``. Struct-typed top-level ports are avoided because yosys'
    ``synth_ecp5`` asserts on them. Latency and throughput are those of :class:`SparseMMA`.

    Parameters
    ----------
    config : CoreConfig

    Members
    -------
    a_valid, a_first, a_last, b_valid, d_ready : ``In(1)``
    a_ready, b_ready, d_valid, d_error, error : ``Out(1)``
    a_values : ``In(tile_m * kept_k * a_width)``
    a_meta : ``In(tile_m * meta_width)``
        Sparse core only.
    b_data : ``In(b_rows * tile_n * b_width)``
    d_data : ``Out(tile_m * tile_n * acc_width)``

    Raises
    ------
    TypeError
        If ``config`` is not a :class:`CoreConfig`.
    """

    def __init__(self, config):
        if not isinstance(config, CoreConfig):
            raise TypeError(f"config must be a CoreConfig, not {config!r}")
        self._config = config
        a = a_layout(config)
        ports = {
            "a_valid": In(1),
            "a_ready": Out(1),
            "a_values": In(a["values"].shape.size),
        }
        if config.sparse:
            ports["a_meta"] = In(a["meta"].shape.size)
        ports.update({
            "a_first": In(1),
            "a_last": In(1),
            "b_valid": In(1),
            "b_ready": Out(1),
            "b_data": In(b_layout(config).size),
            "d_valid": Out(1),
            "d_ready": In(1),
            "d_data": Out(d_layout(config)["data"].shape.size),
            "d_error": Out(1),
            "error": Out(1),
        })
        super().__init__(ports)

    @property
    def config(self):
        return self._config

    @property
    def latency(self):
        return self._config.latency

    def elaborate(self, platform):
        m = Module()
        core = m.submodules.core = SparseMMA(self._config)
        m.d.comb += [
            core.a.valid.eq(self.a_valid),
            self.a_ready.eq(core.a.ready),
            core.a.payload.values.eq(self.a_values),
            core.a.payload.first.eq(self.a_first),
            core.a.payload.last.eq(self.a_last),
            core.b.valid.eq(self.b_valid),
            self.b_ready.eq(core.b.ready),
            core.b.payload.eq(self.b_data),
            self.d_valid.eq(core.d.valid),
            core.d.ready.eq(self.d_ready),
            self.d_data.eq(core.d.payload.data),
            self.d_error.eq(core.d.payload.error),
            self.error.eq(core.error),
        ]
        if self._config.sparse:
            m.d.comb += core.a.payload.meta.eq(self.a_meta)
        return m
