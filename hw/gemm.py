"""GEMM engine around :class:`hw.core.SparseMMA`: operand buffers, tile sequencer, counters.

The engine holds compressed A and dense B in on-chip memories (one tile operation per
memory word, so the core gets one operation per cycle), walks the M, N and K tiles of a
job in the order of ``docs/architecture.md`` §3, and streams the D tiles out with
back-pressure. Jobs are programmed through a small register file; ``docs/gemm.md`` is
the user's documentation (register map, word layouts, counter definitions).
"""

import enum

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .config import ConfigError, CoreConfig
from .gemm_csr import COUNTER_WIDTH, CSR_DATA_WIDTH, CSR_READ_LATENCY, CsrFile
from .gemm_regs import COUNTER_NAMES, ENGINE_REGISTERS
from .regmap import WORD_ADDR_WIDTH

__all__ = ["GemmEngine", "Reg", "Ctrl", "Status", "Cause", "COUNTERS",
           "a_word_layout", "b_word_layout", "d_tile_layout", "CSR_ADDR_WIDTH",
           "CSR_DATA_WIDTH", "CSR_READ_LATENCY", "CAUSE_WIDTH", "MAX_DEPTH", "DIM_WIDTH",
           "DEFAULT_T_DEPTH"]

#: Width of the register file's (word) address and data buses.
CSR_ADDR_WIDTH = WORD_ADDR_WIDTH
#: Width of the ``cause`` port and of ``STATUS.cause``.
CAUSE_WIDTH = ENGINE_REGISTERS["STATUS"].field("cause").width
#: Job dimensions are counted in tiles, in 16-bit registers.
DIM_WIDTH = 16
#: Deepest operand buffer a job descriptor can address (16-bit base addresses).
MAX_DEPTH = 1 << 16
#: Entries of the tile-wise kept-block table by default (docs/tilewise.md).
DEFAULT_T_DEPTH = 256


def _reg_members():
    members = {reg.name: reg.addr for reg in ENGINE_REGISTERS}
    # Counter aliases: ``Reg.CYCLES`` is the low word's address (``CYCLES_LO``).
    members.update({name.upper(): members[f"{name.upper()}_LO"] for name in COUNTER_NAMES})
    return members


#: Word addresses of the registers (``docs/registers.md``), from :data:`ENGINE_REGISTERS`.
Reg = enum.IntEnum("Reg", _reg_members(), module=__name__)


class Ctrl(enum.IntFlag):
    """Bits of a write to ``CTRL``."""
    START = 1 << 0
    CLEAR = 1 << 1           # clear DONE and the error cause
    CLEAR_COUNTERS = 1 << 2  # zero every performance counter


class Status(enum.IntFlag):
    """Bits of ``STATUS`` (the cause is in bits 8..15, see :class:`Cause`)."""
    BUSY = 1 << 0
    DONE = 1 << 1
    ERROR = 1 << 2


class Cause(enum.IntFlag):
    """Error cause bits (``STATUS`` bits 8..15 and the ``cause`` port)."""
    ZERO_DIM = 1 << 0   # M_TILES, N_TILES or K_TILES is zero: rejected, no D
    A_RANGE = 1 << 1    # the job's A words run past the A buffer: rejected, no D
    B_RANGE = 1 << 2    # the job's B words run past the B buffer: rejected, no D
    META = 1 << 3       # some A group had invalid metadata: job completes, D flagged
    MODE = 1 << 4       # sparse job on a dense-baseline core: rejected, no D
    VALUE = 1 << 5      # a register write set bits outside its fields: next START rejected
    TABLE = 1 << 6      # tile-wise job: the kept-block table failed its scan: no D


#: Performance counters in register order: (name, Reg).
COUNTERS = tuple((name, Reg[f"{name.upper()}_LO"]) for name in COUNTER_NAMES)


def a_word_layout(config):
    """One A buffer word: the A operand of one tile operation.

    ``values[r][j]`` is kept element ``j`` of row ``r`` (sparse jobs) or dense element
    ``j`` of a ``tile_m × kept_k`` block (dense jobs); ``meta[r]`` is row ``r``'s index bit
    string (architecture §3), ignored by dense jobs. A dense-baseline core has no ``meta``.
    """
    fields = {"values": data.ArrayLayout(data.ArrayLayout(signed(config.a_width),
                                                          config.kept_k), config.tile_m)}
    if config.sparse:
        fields["meta"] = data.ArrayLayout(unsigned(config.meta_width), config.tile_m)
    return data.StructLayout(fields)


def b_word_layout(config):
    """One B buffer word: a ``tile_k × tile_n`` block of B (dense, never spread)."""
    return data.ArrayLayout(data.ArrayLayout(signed(config.b_width), config.tile_n),
                            config.tile_k)


def d_tile_layout(config):
    """One D tile: ``tile_m × tile_n`` accumulators."""
    return data.ArrayLayout(data.ArrayLayout(signed(config.acc_width), config.tile_n),
                            config.tile_m)


class GemmEngine(wiring.Component):
    """Sparse (2:4, N:M) or dense GEMM on one :class:`~hw.core.SparseMMA` core.

    Parameters
    ----------
    config : CoreConfig
        The core's parameters (tile shape, widths, N:M, pipeline).
    a_depth, b_depth : int
        Words of the A and B buffers. One A word is one tile operation's A operand, one B
        word one ``tile_k × tile_n`` block of B; a job needs
        ``M_TILES * K_TILES * (1 if sparse else m // n)`` A words and
        ``K_TILES * N_TILES`` B words.

    Members
    -------
    csr_addr, csr_wdata, csr_we : In
        Register write: ``csr_wdata`` is written to register ``csr_addr`` at a clock edge
        where ``csr_we`` is high.
    csr_rdata : Out(32)
        Register read, one cycle of latency: the value of register ``csr_addr`` as it was
        at the previous clock edge.
    ld_a : In(stream.Signature(...))
        A buffer writes: ``payload.addr`` and ``payload.word`` (:func:`a_word_layout`).
        Always ready.
    ld_b : In(stream.Signature(...))
        B buffer writes: ``payload.addr`` and ``payload.word`` (:func:`b_word_layout`).
        Always ready.
    ld_t : In(stream.Signature(...))
        Kept-block table writes (tile-wise jobs): ``payload.addr`` and ``payload.entry``
        (:func:`hw.kept_table.entry_layout`); ready as ``ld_a``. ``t_depth`` entries.
    d : Out(stream.Signature(...))
        D tiles in (mi, ni) order: ``payload.data`` (:func:`d_tile_layout`), ``error``
        (invalid metadata in this tile's operations) and ``last`` (last tile of the job).
    busy, done : Out(1)
        A job is running; the last job has finished (sticky until the next START or CLEAR).
    cause : Out(8)
        :class:`Cause` bits of the last job (sticky until the next START or CLEAR).

    Throughput: one tile operation per cycle, no bubbles between output tiles, while D is
    not back-pressured. Latency: a job of ``T`` operations with ``d.ready`` held high is busy
    for ``T + pipeline + 2`` cycles (``T + core latency + 1``): one cycle of buffer read before
    the first operation, the core's latency after the last (``docs/gemm.md`` §5).

    Raises
    ------
    ConfigError
        If a depth is out of range or the pattern's ``m`` is not ``2 * n``.
    """

    def __init__(self, config, *, a_depth, b_depth, t_depth=DEFAULT_T_DEPTH):
        if not isinstance(config, CoreConfig):
            raise TypeError(f"config must be a CoreConfig, not {config!r}")
        for name, depth in (("a_depth", a_depth), ("b_depth", b_depth)):
            if not isinstance(depth, int) or isinstance(depth, bool):
                raise ConfigError(f"{name} must be an integer, not {depth!r}")
            if not 1 <= depth <= MAX_DEPTH:
                raise ConfigError(f"{name} must be between 1 and {MAX_DEPTH}, not {depth}")
        if config.m != 2 * config.n:
            raise ConfigError(f"dense jobs need m == 2*n, not {config.n}:{config.m}")
        # Tile-wise kept-block table (hw/kept_table.py validates t_depth).
        from .kept_table import KeptTable, entry_layout
        self.table = KeptTable(t_depth)
        self.t_depth = t_depth
        self.config = config
        self.a_depth = a_depth
        self.b_depth = b_depth
        self.a_layout = a_word_layout(config)
        self.b_layout = b_word_layout(config)
        self.d_layout = d_tile_layout(config)
        super().__init__({
            "csr_addr": In(CSR_ADDR_WIDTH),
            "csr_wdata": In(CSR_DATA_WIDTH),
            "csr_we": In(1),
            "csr_re": In(1),
            "csr_rdata": Out(CSR_DATA_WIDTH),
            "ld_a": In(stream.Signature(data.StructLayout({
                "addr": unsigned(max(1, ceil_log2(a_depth))), "word": self.a_layout}))),
            "ld_b": In(stream.Signature(data.StructLayout({
                "addr": unsigned(max(1, ceil_log2(b_depth))), "word": self.b_layout}))),
            "ld_t": In(stream.Signature(data.StructLayout({
                "addr": unsigned(self.table.addr_width), "entry": entry_layout()}))),
            "d": Out(stream.Signature(data.StructLayout({
                "data": self.d_layout, "error": 1, "last": 1}))),
            "busy": Out(1),
            "done": Out(1),
            "cause": Out(CAUSE_WIDTH),
        })

    @property
    def ops_per_k_tile(self):
        """Tile operations per ``tile_k`` of K: 1 in sparse jobs, ``m // n`` in dense ones."""
        return self.config.m // self.config.n

    def elaborate(self, platform):
        from .core import SparseMMA

        cfg = self.config
        ratio = self.ops_per_k_tile
        m = Module()

        # --- operand buffers (synchronous read with enable: block RAM) -----------------------
        m.submodules.a_mem = a_mem = Memory(shape=self.a_layout, depth=self.a_depth, init=[])
        m.submodules.b_mem = b_mem = Memory(shape=self.b_layout, depth=self.b_depth, init=[])
        a_wr = a_mem.write_port()
        b_wr = b_mem.write_port()
        a_rd = a_mem.read_port()
        b_rd = b_mem.read_port()
        # The load streams are ready from the cycle after reset on (a producer must honour
        # ``ready``: it is low during reset and the first cycle after it).
        ld_ready = Signal(name="ld_ready")
        m.d.sync += ld_ready.eq(1)
        m.d.comb += [
            self.ld_a.ready.eq(ld_ready),
            a_wr.addr.eq(self.ld_a.payload.addr),
            a_wr.data.eq(self.ld_a.payload.word),
            a_wr.en.eq(self.ld_a.valid & ld_ready),
            self.ld_b.ready.eq(ld_ready),
            b_wr.addr.eq(self.ld_b.payload.addr),
            b_wr.data.eq(self.ld_b.payload.word),
            b_wr.en.eq(self.ld_b.valid & ld_ready),
        ]

        m.submodules.core = core = SparseMMA(cfg)

        # --- register file (hw/gemm_csr.py) -------------------------------------------------------
        m.submodules.csr = csr = CsrFile()
        m.d.comb += [
            csr.addr.eq(self.csr_addr),
            csr.wdata.eq(self.csr_wdata),
            csr.we.eq(self.csr_we),
            csr.re.eq(self.csr_re),
            self.csr_rdata.eq(csr.rdata),
        ]
        mode_dense = csr.rw_mode[0]
        dims = {name: getattr(csr, f"rw_{name}")
                for name in ("m_tiles", "n_tiles", "k_tiles", "a_base", "b_base")}
        start, clear, clear_counters = (csr.wo_ctrl_start, csr.wo_ctrl_clear,
                                        csr.wo_ctrl_clear_counters)
        # A write that did not fit its register: the next START is rejected with VALUE.
        value_error = Signal()
        with m.If(csr.value_error):
            m.d.sync += value_error.eq(1)

        counters = {name: Signal(COUNTER_WIDTH, name=f"cnt_{name}") for name, _ in COUNTERS}

        # --- tile-wise job: registers and kept-block table (docs/tilewise.md) ---------------
        m.submodules.table = table = self.table
        m.d.comb += [
            self.ld_t.ready.eq(ld_ready),
            table.ld.valid.eq(self.ld_t.valid & ld_ready),
            table.ld.payload.eq(self.ld_t.payload),
        ]
        tw_enable = csr.rw_tw_ctrl[0]
        tw_group = csr.rw_tw_group
        tw_base = csr.rw_tw_base

        # --- job state ---------------------------------------------------------------------------
        # Latched at START so that register writes during a job do not disturb it.
        dense = Signal()                       # this job is dense
        kops = Signal(DIM_WIDTH + 1)           # operations per (mi, ni): K_TILES * ratio
        m_t = Signal(DIM_WIDTH)
        n_t = Signal(DIM_WIDTH)
        b_base = Signal(DIM_WIDTH)
        tw = Signal()                          # this job is tile-wise
        scanning = Signal()                    # tile-wise: the table scan runs
        group_t = Signal(DIM_WIDTH)            # tile-wise: tile rows per group
        a_base_l = Signal(DIM_WIDTH)           # tile-wise: A range checked after the scan

        # Issue counters (stage 0) and their running buffer addresses.
        mi = Signal(DIM_WIDTH)
        ni = Signal(DIM_WIDTH)
        ki = Signal(DIM_WIDTH + 1)
        a_row = Signal(2 * DIM_WIDTH + 2)      # a_base + mi * kops
        a_addr = Signal(2 * DIM_WIDTH + 2)
        b_addr = Signal(2 * DIM_WIDTH + 2)
        issuing = Signal()                     # operations remain to be read
        t_addr = Signal(DIM_WIDTH + 1)         # tile-wise: table entry of this operation
        t_first = Signal(DIM_WIDTH + 1)        # tile-wise: first entry of this group
        gi = Signal(DIM_WIDTH)                 # tile-wise: tile row inside the group
        half = Signal()                        # tile-wise dense job: second half of the block

        # Stage 1: the buffer words being read, with their flags.
        valid1 = Signal()
        first1 = Signal()
        last1 = Signal()
        half1 = Signal()                       # dense job: which half of the B word

        # Output tile counters: the job ends with the transfer of tile (m_t - 1, n_t - 1).
        d_mi = Signal(DIM_WIDTH)
        d_ni = Signal(DIM_WIDTH)
        d_last = Signal()
        m.d.comb += d_last.eq((d_mi == m_t - 1) & (d_ni == n_t - 1))
        done = Signal()
        cause = Signal(CAUSE_WIDTH)
        busy = Signal()

        accept = Signal()                      # the core takes an operation this cycle
        m.d.comb += accept.eq(core.a.valid & core.a.ready)
        advance = Signal()                     # stage 1 is free for the next word
        m.d.comb += advance.eq(~valid1 | accept)

        # --- start, checks and completion ----------------------------------------------------
        mt_req, nt_req, kt_req = dims["m_tiles"], dims["n_tiles"], dims["k_tiles"]
        kops_req = Signal(DIM_WIDTH + 1)
        m.d.comb += kops_req.eq(Mux(mode_dense, kt_req * ratio, kt_req))
        a_need = Signal(2 * DIM_WIDTH + 2)
        b_need = Signal(2 * DIM_WIDTH + 1)
        m.d.comb += [
            a_need.eq(dims["a_base"] + mt_req * kops_req),
            b_need.eq(dims["b_base"] + kt_req * nt_req),
        ]
        check = Signal(CAUSE_WIDTH)
        m.d.comb += [
            check[0].eq((mt_req == 0) | (nt_req == 0) | (kt_req == 0)),
            check[1].eq((a_need > self.a_depth) & ~tw_enable),
            check[2].eq(b_need > self.b_depth),
            check[4].eq(~mode_dense if not cfg.sparse else 0),
            check[5].eq(value_error),
        ]

        d_take = Signal()
        m.d.comb += d_take.eq(self.d.valid & self.d.ready)

        with m.If(clear):
            m.d.sync += [done.eq(0), cause.eq(0), value_error.eq(0)]
        with m.If(start & ~busy):
            m.d.sync += value_error.eq(csr.value_error)
            m.d.sync += [
                done.eq(0),
                dense.eq(mode_dense),
                kops.eq(kops_req),
                m_t.eq(mt_req),
                n_t.eq(nt_req),
                b_base.eq(dims["b_base"]),
                mi.eq(0), ni.eq(0), ki.eq(0),
                a_row.eq(dims["a_base"]),
                a_addr.eq(dims["a_base"]),
                b_addr.eq(dims["b_base"]),
                d_mi.eq(0),
                d_ni.eq(0),
            ]
            with m.If(check.any()):
                m.d.sync += [done.eq(1), cause.eq(check)]
            with m.Elif(tw_enable):
                m.d.sync += [busy.eq(1), scanning.eq(1), cause.eq(0)]
            with m.Else():
                m.d.sync += [busy.eq(1), issuing.eq(1), cause.eq(0)]
            m.d.sync += [tw.eq(tw_enable), group_t.eq(tw_group), a_base_l.eq(dims["a_base"]),
                         t_addr.eq(tw_base), t_first.eq(tw_base), gi.eq(0), half.eq(0)]

        # Tile-wise: scan the table before the first operation; a bad table or an A range
        # past the buffer (known only now: the compact A holds kept blocks only) rejects
        # the job with no D.
        m.d.comb += [
            table.start.eq(start & ~busy & ~check.any() & tw_enable),
            table.base.eq(tw_base),
            table.m_tiles.eq(mt_req),
            table.group_tiles.eq(tw_group),
            table.k_tiles.eq(kt_req),
        ]
        tw_a_need = Signal(2 * DIM_WIDTH + 3)
        m.d.comb += tw_a_need.eq(a_base_l + Mux(dense, table.a_rows * ratio, table.a_rows))
        with m.If(scanning & table.done):
            m.d.sync += scanning.eq(0)
            with m.If(table.error != 0):
                m.d.sync += [busy.eq(0), done.eq(1), cause.eq(Cause.TABLE)]
            with m.Elif(tw_a_need > self.a_depth):
                m.d.sync += [busy.eq(0), done.eq(1), cause.eq(Cause.A_RANGE)]
            with m.Else():
                m.d.sync += issuing.eq(1)

        with m.If(busy & d_take):
            with m.If(d_ni == n_t - 1):
                m.d.sync += [d_ni.eq(0), d_mi.eq(d_mi + 1)]
            with m.Else():
                m.d.sync += d_ni.eq(d_ni + 1)
            with m.If(self.d.payload.error):
                m.d.sync += cause[3].eq(1)
            with m.If(d_last):
                m.d.sync += [busy.eq(0), done.eq(1)]

        # --- sequencer: mi, ni, ki loops, one buffer read per cycle ------------------------
        last_k = Signal()
        m.d.comb += last_k.eq(ki == kops - 1)
        issue = Signal()
        m.d.comb += issue.eq(issuing & advance)
        # Tile-wise: the K loop walks the group's kept list (table entry t_addr) instead of
        # every K tile; B word of entry (block, ni) = B_BASE + block·N_TILES + ni.
        entry = table.rd_data
        m.d.comb += table.rd_addr.eq(t_addr)
        tw_b_addr = Signal(2 * DIM_WIDTH + 2)
        tw_last = Signal()
        m.d.comb += [
            tw_b_addr.eq(b_base + entry.block * n_t + ni),
            tw_last.eq(entry.last & (half | ~dense)),
        ]
        m.d.comb += [
            a_rd.addr.eq(a_addr),
            b_rd.addr.eq(Mux(tw, tw_b_addr, b_addr)),
            a_rd.en.eq(advance),
            b_rd.en.eq(advance),
        ]
        with m.If(advance):
            m.d.sync += [
                valid1.eq(issue),
                first1.eq(Mux(tw, (t_addr == t_first) & ~half, ki == 0)),
                last1.eq(Mux(tw, tw_last, last_k)),
                half1.eq(Mux(tw, half, ki[0])),
            ]
        with m.If(issue & tw):
            m.d.sync += a_addr.eq(a_addr + 1)
            with m.If(dense & ~half):
                m.d.sync += half.eq(1)
            with m.Elif(~entry.last):
                m.d.sync += [half.eq(0), t_addr.eq(t_addr + 1)]
            with m.Else():
                m.d.sync += [half.eq(0), t_addr.eq(t_first), a_addr.eq(a_row)]
                with m.If(ni == n_t - 1):
                    m.d.sync += [ni.eq(0), mi.eq(mi + 1),
                                 a_row.eq(a_addr + 1), a_addr.eq(a_addr + 1)]
                    with m.If(gi == group_t - 1):
                        m.d.sync += [gi.eq(0), t_first.eq(t_addr + 1), t_addr.eq(t_addr + 1)]
                    with m.Else():
                        m.d.sync += gi.eq(gi + 1)
                    with m.If(mi == m_t - 1):
                        m.d.sync += issuing.eq(0)
                with m.Else():
                    m.d.sync += ni.eq(ni + 1)
        with m.If(issue & ~tw):
            with m.If(last_k):
                m.d.sync += [ki.eq(0), a_addr.eq(a_row)]
                with m.If(ni == n_t - 1):
                    m.d.sync += [
                        ni.eq(0),
                        mi.eq(mi + 1),
                        a_row.eq(a_row + kops),
                        a_addr.eq(a_row + kops),
                        b_addr.eq(b_base),
                    ]
                    with m.If(mi == m_t - 1):
                        m.d.sync += issuing.eq(0)
                with m.Else():
                    m.d.sync += [ni.eq(ni + 1), b_addr.eq(b_base + ni + 1)]
            with m.Else():
                m.d.sync += [ki.eq(ki + 1), a_addr.eq(a_addr + 1)]
                # Dense jobs read each B word twice (both halves) before moving on.
                with m.If(~dense | ki[0]):
                    m.d.sync += b_addr.eq(b_addr + n_t)

        # --- core operands ---------------------------------------------------------------------
        m.d.comb += [
            core.a.valid.eq(valid1),
            core.b.valid.eq(valid1),
            core.a.payload.first.eq(first1),
            core.a.payload.last.eq(last1),
            core.a.payload.values.eq(a_rd.data.values),
        ]
        b_word = b_rd.data
        rows_half = cfg.kept_k
        b_half = Signal(data.ArrayLayout(data.ArrayLayout(signed(cfg.b_width), cfg.tile_n),
                                         rows_half))
        half_bits = b_half.shape().size
        m.d.comb += b_half.eq(Mux(half1, b_word.as_value()[half_bits:2 * half_bits],
                                  b_word.as_value()[:half_bits]))
        if cfg.sparse:
            # Dense jobs: metadata "positions 0 .. n-1" in every group and B spread so that
            # dense row g*n + s sits at row g*m + s (architecture §5).
            idx = cfg.index_width
            dense_meta = 0
            for j in range(cfg.kept_k):
                dense_meta |= (j % cfg.n) << (j * idx)
            b_spread = Signal(self.b_layout)
            for j in range(rows_half):
                g, s = divmod(j, cfg.n)
                m.d.comb += b_spread[g * cfg.m + s].eq(b_half[j])
            with m.If(dense):
                m.d.comb += [
                    core.a.payload.meta.eq(Cat(*([Const(dense_meta, cfg.meta_width)]
                                                 * cfg.tile_m))),
                    core.b.payload.eq(b_spread),
                ]
            with m.Else():
                m.d.comb += [
                    core.a.payload.meta.eq(a_rd.data.meta),
                    core.b.payload.eq(b_word),
                ]
        else:
            m.d.comb += core.b.payload.eq(b_half)

        # --- D stream ---------------------------------------------------------------------------
        m.d.comb += [
            self.d.valid.eq(core.d.valid),
            core.d.ready.eq(self.d.ready),
            self.d.payload.data.eq(core.d.payload.data),
            self.d.payload.error.eq(core.d.payload.error),
            self.d.payload.last.eq(d_last),
        ]

        # --- performance counters -------------------------------------------------------------
        stall_out = Signal()
        m.d.comb += stall_out.eq(busy & ~accept & self.d.valid & ~self.d.ready)
        macs_sparse = cfg.tile_m * cfg.tile_n * cfg.tile_k
        macs_dense = cfg.tile_m * cfg.tile_n * cfg.kept_k
        with m.If(clear_counters):
            m.d.sync += [c.eq(0) for c in counters.values()]
        with m.Else():
            m.d.sync += counters["cycles"].eq(counters["cycles"] + 1)
            with m.If(busy):
                m.d.sync += counters["busy_cycles"].eq(counters["busy_cycles"] + 1)
            with m.If(stall_out):
                m.d.sync += counters["stall_out"].eq(counters["stall_out"] + 1)
            with m.If(busy & ~accept & ~stall_out):
                m.d.sync += counters["stall_in"].eq(counters["stall_in"] + 1)
            with m.If(accept):
                m.d.sync += [
                    counters["tile_ops"].eq(counters["tile_ops"] + 1),
                    counters["macs"].eq(counters["macs"] +
                                        Mux(dense, macs_dense, macs_sparse)),
                ]
            with m.If(busy & d_take):
                m.d.sync += counters["d_tiles"].eq(counters["d_tiles"] + 1)

        # --- register reads -------------------------------------------------------------------
        info = (cfg.tile_m | cfg.tile_n << 8 | cfg.tile_k << 16 | cfg.n << 24 | cfg.m << 28)
        widths = (cfg.a_width | cfg.b_width << 8 | cfg.acc_width << 16 | int(cfg.sparse) << 24)
        m.d.comb += [
            csr.ro_status.eq(Cat(busy, done, cause.any(), Const(0, 5), cause)),
            csr.ro_info.eq(info & 0xFFFFFFFF),
            csr.ro_a_depth.eq(self.a_depth),
            csr.ro_b_depth.eq(self.b_depth),
            csr.ro_widths.eq(widths),
            # tile-wise job
            csr.ro_tw_depth.eq(self.t_depth),
            csr.ro_tw_err.eq(table.error),
            csr.ro_tw_err_at.eq(Cat(table.err_entry, table.err_group)),
        ]
        for name, counter in counters.items():
            m.d.comb += getattr(csr, f"cnt_{name}").eq(counter)

        m.d.comb += [self.busy.eq(busy), self.done.eq(done), self.cause.eq(cause)]
        return m
