"""A Verilog core (the flat-port top of ``hw.gen``, or a mutant of it) behind the
:class:`~hw.core.SparseMMA` signature, so that :class:`~tb.formal.core_props.CoreHarness`
can check it: the harness then reads only ports, as it does for the Amaranth core."""

from amaranth.hdl import ClockSignal, Instance, Module, ResetSignal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.core import a_layout, b_layout, d_layout

__all__ = ["FlatInstance"]


class FlatInstance(wiring.Component):
    """An instance of the Verilog module ``module`` (ports of :class:`hw.top.FlatSparseMMA`)
    for the core of ``config``."""

    def __init__(self, config, module):
        self._config = config
        self._module = module
        self.fifo_depth = config.pipeline + 2
        self.latency = config.latency
        super().__init__({
            "a": In(stream.Signature(a_layout(config))),
            "b": In(stream.Signature(b_layout(config))),
            "d": Out(stream.Signature(d_layout(config))),
            "error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        ports = dict(
            i_clk=ClockSignal(), i_rst=ResetSignal(),
            i_a_valid=self.a.valid, o_a_ready=self.a.ready,
            i_a_values=self.a.payload.values, i_a_first=self.a.payload.first,
            i_a_last=self.a.payload.last,
            i_b_valid=self.b.valid, o_b_ready=self.b.ready, i_b_data=self.b.payload,
            o_d_valid=self.d.valid, i_d_ready=self.d.ready,
            o_d_data=self.d.payload.data, o_d_error=self.d.payload.error,
            o_error=self.error)
        if self._config.sparse:
            ports["i_a_meta"] = self.a.payload.meta
        m.submodules.core = Instance(self._module, **ports)
        return m
