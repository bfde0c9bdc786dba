"""Flat-port wrapper of :class:`~hw.gemm.GemmEngine` and its Verilog generator.

Struct-typed top-level ports trip yosys' ``synth_ecp5`` (architecture.md §6), so the
emitted top has one plain bit vector per field. Packing follows architecture.md §6:
element 0 at the least-significant bits, row-major.
"""

from amaranth.back import verilog
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .config import CoreConfig
from .gemm import CAUSE_WIDTH, CSR_ADDR_WIDTH, CSR_DATA_WIDTH, DEFAULT_T_DEPTH, GemmEngine
from .kept_table import ENTRY_BLOCK_WIDTH

__all__ = ["FlatGemmEngine", "emit_gemm", "gemm_module_name"]


class FlatGemmEngine(wiring.Component):
    """:class:`~hw.gemm.GemmEngine` with plain bit-vector ports (``docs/gemm.md`` §2).

    Parameters
    ----------
    config : CoreConfig
    a_depth, b_depth : int
        Buffer depths in words, as for :class:`~hw.gemm.GemmEngine`.
    memory, t_depth, checks
        As for :class:`~hw.gemm.GemmEngine`.

    Members
    -------
    csr_addr : ``In(8)``; csr_wdata : ``In(32)``; csr_we, csr_re : ``In(1)``;
    csr_rdata : ``Out(32)``
        Register file (``csr_rdata`` ``CSR_READ_LATENCY`` cycles after the cycle with
        ``csr_re``).
    ld_a_valid : ``In(1)``; ld_a_ready : ``Out(1)``; ld_a_addr : ``In(ceil_log2(a_depth))``
    ld_a_values : ``In(tile_m * kept_k * a_width)``
        Element ``(r, j)`` at bit ``(r*kept_k + j)*a_width``.
    ld_a_meta : ``In(tile_m * meta_width)``
        Row ``r`` at bit ``r*meta_width`` (sparse core only).
    ld_b_valid : ``In(1)``; ld_b_ready : ``Out(1)``; ld_b_addr : ``In(ceil_log2(b_depth))``
    ld_b_data : ``In(tile_k * tile_n * b_width)``
        Element ``(k, c)`` at bit ``(k*tile_n + c)*b_width``.
    d_valid : ``Out(1)``; d_ready : ``In(1)``; d_error, d_last : ``Out(1)``
    d_data : ``Out(tile_m * tile_n * acc_width)``
        Element ``(r, c)`` at bit ``(r*tile_n + c)*acc_width``.
    ld_t_valid : ``In(1)``; ld_t_ready : ``Out(1)``; ld_t_addr : ``In(ceil_log2(t_depth))``
    ld_t_block : ``In(16)``; ld_t_last : ``In(1)``
        Kept-block table entry writes (tile-wise jobs, ``docs/tilewise.md``).
    busy, done : ``Out(1)``; cause : ``Out(CAUSE_WIDTH)``
    """

    def __init__(self, config, *, a_depth, b_depth, memory=None, t_depth=DEFAULT_T_DEPTH,
                 checks=False):
        if not isinstance(config, CoreConfig):
            raise TypeError(f"config must be a CoreConfig, not {config!r}")
        self._engine = GemmEngine(config, a_depth=a_depth, b_depth=b_depth, memory=memory,
                                  t_depth=t_depth, checks=checks)
        self.t_depth = t_depth
        self.config = config
        self.a_depth = a_depth
        self.b_depth = b_depth
        a_layout = self._engine.a_layout
        ports = {
            "csr_addr": In(CSR_ADDR_WIDTH),
            "csr_wdata": In(CSR_DATA_WIDTH),
            "csr_we": In(1),
            "csr_re": In(1),
            "csr_rdata": Out(CSR_DATA_WIDTH),
            "ld_a_valid": In(1),
            "ld_a_ready": Out(1),
            "ld_a_addr": In(max(1, ceil_log2(a_depth))),
            "ld_a_values": In(a_layout["values"].shape.size),
        }
        if config.sparse:
            ports["ld_a_meta"] = In(a_layout["meta"].shape.size)
        ports.update({
            "ld_b_valid": In(1),
            "ld_b_ready": Out(1),
            "ld_b_addr": In(max(1, ceil_log2(b_depth))),
            "ld_b_data": In(self._engine.b_layout.size),
            # Tile-wise kept-block table writes (docs/tilewise.md).
            "ld_t_valid": In(1),
            "ld_t_ready": Out(1),
            "ld_t_addr": In(self._engine.table.addr_width),
            "ld_t_block": In(ENTRY_BLOCK_WIDTH),
            "ld_t_last": In(1),
            "d_valid": Out(1),
            "d_ready": In(1),
            "d_data": Out(self._engine.d_layout.size),
            "d_error": Out(1),
            "d_last": Out(1),
            "busy": Out(1),
            "done": Out(1),
            "cause": Out(CAUSE_WIDTH),
        })
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        engine = m.submodules.engine = self._engine
        m.d.comb += [
            engine.csr_addr.eq(self.csr_addr),
            engine.csr_wdata.eq(self.csr_wdata),
            engine.csr_we.eq(self.csr_we),
            engine.csr_re.eq(self.csr_re),
            self.csr_rdata.eq(engine.csr_rdata),
            engine.ld_a.valid.eq(self.ld_a_valid),
            self.ld_a_ready.eq(engine.ld_a.ready),
            engine.ld_a.payload.addr.eq(self.ld_a_addr),
            engine.ld_a.payload.word.values.eq(self.ld_a_values),
            engine.ld_b.valid.eq(self.ld_b_valid),
            self.ld_b_ready.eq(engine.ld_b.ready),
            engine.ld_b.payload.addr.eq(self.ld_b_addr),
            engine.ld_b.payload.word.eq(self.ld_b_data),
            engine.ld_t.valid.eq(self.ld_t_valid),
            self.ld_t_ready.eq(engine.ld_t.ready),
            engine.ld_t.payload.addr.eq(self.ld_t_addr),
            engine.ld_t.payload.entry.block.eq(self.ld_t_block),
            engine.ld_t.payload.entry.last.eq(self.ld_t_last),
            self.d_valid.eq(engine.d.valid),
            engine.d.ready.eq(self.d_ready),
            self.d_data.eq(engine.d.payload.data),
            self.d_error.eq(engine.d.payload.error),
            self.d_last.eq(engine.d.payload.last),
            self.busy.eq(engine.busy),
            self.done.eq(engine.done),
            self.cause.eq(engine.cause),
        ]
        if self.config.sparse:
            m.d.comb += engine.ld_a.payload.word.meta.eq(self.ld_a_meta)
        return m


def gemm_module_name(config, *, a_depth, b_depth, memory=None, t_depth=DEFAULT_T_DEPTH):
    """Module (and build folder) name of one engine configuration (``_m<memory>`` appended
    when ``memory`` is not the configuration's default, ``_t<t_depth>`` when the tile-wise
    table is not the default size)."""
    default = "ecp5" if config.dsp == "ecp5" else "generic"
    tail = "" if t_depth == DEFAULT_T_DEPTH else f"_t{t_depth}"
    if memory is not None and memory != default:
        return f"gemm_{config.name}_a{a_depth}_b{b_depth}_m{memory}{tail}"
    return f"gemm_{config.name}_a{a_depth}_b{b_depth}{tail}"


def emit_gemm(config, *, a_depth, b_depth, name=None, memory=None, t_depth=DEFAULT_T_DEPTH):
    """Verilog text of the flat-port GEMM engine; deterministic (no source paths)."""
    top = FlatGemmEngine(config, a_depth=a_depth, b_depth=b_depth, memory=memory,
                         t_depth=t_depth)
    name = name or gemm_module_name(config, a_depth=a_depth, b_depth=b_depth, memory=memory,
                                    t_depth=t_depth)
    return verilog.convert(top, name=name, emit_src=False)
