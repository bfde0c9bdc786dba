"""Flat-port top of :class:`hw.axi.AxiGemmEngine` (AXI signal names) and its Verilog generator.

Ports: ``clk``, ``rst`` (active high, synchronous), ``s_axil_*`` (``awaddr`` …
``rready``), ``s_axis_a_*``, ``s_axis_b_*`` (``tdata``, ``tkeep``, ``tlast``, ``tvalid``,
``tready``), ``m_axis_d_*`` and ``irq`` — the names Vivado's interface inference and
cocotbext-axi's ``from_prefix`` expect (``docs/axi.md`` §1).
"""

import dataclasses

from amaranth.back import verilog
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .axi import AxiGemmEngine
from .config import CoreConfig

__all__ = ["AxiGemmTop", "AxiBuild", "DEFAULT_BUILD", "emit_axi", "axi_module_name"]


def _flat(prefix, signature):
    """One port per member of ``signature`` (as the inner component sees it)."""
    return {f"{prefix}_{name}": (Out if member.flow is Out else In)(member.shape)
            for name, member in signature.members.items()}


class AxiGemmTop(wiring.Component):
    """:class:`~hw.axi.AxiGemmEngine` with one plain port per AXI signal.

    Parameters are those of :class:`~hw.axi.AxiGemmEngine`.
    """

    _BUSES = ("s_axil", "s_axis_a", "s_axis_b", "m_axis_d")

    def __init__(self, config, *, a_depth, b_depth, **kwargs):
        if not isinstance(config, CoreConfig):
            raise TypeError(f"config must be a CoreConfig, not {config!r}")
        self.inner = AxiGemmEngine(config, a_depth=a_depth, b_depth=b_depth, **kwargs)
        ports = {}
        for bus in self._BUSES:
            ports.update(_flat(bus, self.inner.signature.members[bus].signature))
        ports["irq"] = Out(1)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        m.submodules.axi = inner = self.inner
        for bus in self._BUSES:
            member = inner.signature.members[bus]
            port = getattr(inner, bus)
            for name, sub in member.signature.members.items():
                flat = getattr(self, f"{bus}_{name}")
                if sub.flow is In:
                    m.d.comb += getattr(port, name).eq(flat)
                else:
                    m.d.comb += flat.eq(getattr(port, name))
        m.d.comb += self.irq.eq(inner.irq)
        return m


def axi_module_name(config, *, a_depth, b_depth, beat_bytes=8, zvc=True):
    """Module (and build folder) name of one AXI engine configuration."""
    return (f"axi_gemm_{config.name}_a{a_depth}_b{b_depth}_beat{8 * beat_bytes}"
            + ("_zvc" if zvc else ""))


def emit_axi(config, *, a_depth, b_depth, name=None, **kwargs):
    """Verilog text of the flat-port AXI engine; deterministic (no source paths)."""
    top = AxiGemmTop(config, a_depth=a_depth, b_depth=b_depth, **kwargs)
    name = name or axi_module_name(config, a_depth=a_depth, b_depth=b_depth, **kwargs)
    return verilog.convert(top, name=name, emit_src=False)


@dataclasses.dataclass(frozen=True)
class AxiBuild:
    """One AXI engine configuration, as an entry of :data:`hw.gen.RTL_TARGETS`."""
    config: CoreConfig = CoreConfig()
    a_depth: int = 512
    b_depth: int = 512
    beat_bytes: int = 8
    zvc: bool = True

    def emit(self, name):
        return emit_axi(self.config, a_depth=self.a_depth, b_depth=self.b_depth, name=name,
                        beat_bytes=self.beat_bytes, zvc=self.zvc)


#: The AXI engine committed as ``rtl/axi_gemm.v``: the default 4×4×16 2:4 core, 512-word A
#: and B buffers, 64-bit streams, ZVC expander on B.
DEFAULT_BUILD = AxiBuild()
