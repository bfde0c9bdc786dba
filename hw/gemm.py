"""GEMM engine around :class:`hw.core.SparseMMA`: operand buffers, tile sequencer, counters.

The engine holds compressed A and dense B in on-chip memories (one tile operation per
memory word, so the core gets one operation per cycle), walks the M, N and K tiles of a
job in the order of ``docs/architecture.md`` §3, and streams the D tiles out with
back-pressure. Jobs are programmed through a small register file; ``docs/gemm.md`` is
the user's documentation (register map, word layouts, counter definitions).
"""

import enum

from amaranth.hdl import (Array, Assert, Cat, Const, Module, Mux, ResetSignal, Signal, signed,
                          unsigned)
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .config import ConfigError, CoreConfig
from .gemm_buffer import MEMORY_OPTIONS, READ_LATENCY, OperandBuffer, dp16kd_width
from .gemm_csr import COUNTER_WIDTH, CSR_DATA_WIDTH, CSR_READ_LATENCY, CsrFile
from .gemm_regs import COUNTER_NAMES, ENGINE_REGISTERS
from .fanout import RegisterCopies
from .multiplier import RegisteredMultiplier
from .regmap import WORD_ADDR_WIDTH

__all__ = ["GemmEngine", "Reg", "Ctrl", "Status", "Cause", "COUNTERS",
           "a_word_layout", "b_word_layout", "d_tile_layout", "CSR_ADDR_WIDTH",
           "CSR_DATA_WIDTH", "CSR_READ_LATENCY", "CAUSE_WIDTH", "MAX_DEPTH", "DIM_WIDTH",
           "CHECK_CYCLES", "ADDR_STAGES", "FETCH_LATENCY", "START_LATENCY", "OUTPUT_LATENCY",
           "busy_cycles",
           "DEFAULT_T_DEPTH"]

#: Width of the register file's (word) address and data buses.
CSR_ADDR_WIDTH = WORD_ADDR_WIDTH
#: Width of the ``cause`` port and of ``STATUS.cause``.
CAUSE_WIDTH = ENGINE_REGISTERS["STATUS"].field("cause").width
#: Job dimensions are counted in tiles, in 16-bit registers.
DIM_WIDTH = 16
#: Registered stages between the sequencer and the buffers' read addresses: the tile-wise
#: B address ``B_BASE + ni + block·N_TILES`` needs the kept-table read (stage 1), a register
#: between the LUT RAM's read multiplexer and the DSP (stage 2), a multiply in a registered
#: MULT18X18D (stages 3 and 4) and a sum (stage 5). Every job takes them, so all jobs share
#: one timing.
ADDR_STAGES = 5
#: Cycles from issuing an operation to the core accepting it: the address stages and the
#: buffers' read latency. The engine keeps the core's result credits and issues that many
#: cycles ahead, so the core gets as many more result FIFO entries (II = 1 for jobs whose
#: every operation has ``last``).
FETCH_LATENCY = ADDR_STAGES + READ_LATENCY
#: Cycles of the START check: a serial multiplier (one bit of the 17-bit multiplier per
#: cycle) for the two range products, then the sums, the comparisons, the verdict (each
#: registered).
_MUL_STEPS = DIM_WIDTH + 1
CHECK_CYCLES = _MUL_STEPS + 3
#: From the cycle of the START write to the cycle in which an idle engine's core accepts
#: the job's first operation: the check, one cycle to launch (then the first address), the
#: address stages and the buffers' read latency.
START_LATENCY = 1 + CHECK_CYCLES + 1 + FETCH_LATENCY


#: Registers between the core's D and the engine's (a register slice).
OUTPUT_LATENCY = 1


def busy_cycles(ops, config):
    """``busy_cycles`` of one job of ``ops`` operations started on an idle engine with D
    never back-pressured: BUSY rises the cycle after START and falls after the last D
    transfer, which the core delivers ``latency`` cycles after the last operation and the
    output slice :data:`OUTPUT_LATENCY` later."""
    return START_LATENCY - 1 + ops + config.latency + OUTPUT_LATENCY


#: B bits per register copy of the dense spreader's selects (dense, half): they cross from
#: the block RAMs to the core's input registers, so each copy drives few.
_SELECT_CHUNK = 16
#: What travels beside an issued operation to the core: ``valid`` and the sequencer's flags.
_FLAGS = data.StructLayout({"valid": 1, "first": 1, "last": 1, "job_last": 1, "half": 1,
                            "dense": 1})
#: One address stage: the flags, tile-wise or not, N_TILES, the two buffer addresses.
_ADDR_STAGE = data.StructLayout({"flags": _FLAGS, "tw": 1, "n_t": DIM_WIDTH,
                                 "a_addr": 2 * DIM_WIDTH + 2, "b_addr": 2 * DIM_WIDTH + 2})


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
    QUEUED = 1 << 3          # a started job waits behind the running one


class Cause(enum.IntFlag):
    """Error cause bits (``STATUS`` bits 8..15 and the ``cause`` port)."""
    ZERO_DIM = 1 << 0   # M_TILES, N_TILES or K_TILES is zero: rejected, no D
    A_RANGE = 1 << 1    # the job's A words run past the A buffer: rejected, no D
    B_RANGE = 1 << 2    # the job's B words run past the B buffer: rejected, no D
    META = 1 << 3       # some A group had invalid metadata: job completes, D flagged
    MODE = 1 << 4       # sparse job on a dense-baseline core: rejected, no D
    VALUE = 1 << 5      # a register write set bits outside its fields: next START rejected
    QUEUE = 1 << 6      # START while a job already waited in the queue: that START dropped
    TABLE = 1 << 7      # tile-wise job: the kept-block table failed its scan: rejected, no D


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

    Block diagram (``docs/gemm.md`` §4), one part per method of this class::

        CSR ─► CsrFile (hw/gemm_csr.py) ─► _job_queue: one waiting job, registered checks
        ld_a/ld_b ─► _loads ─► OperandBuffer A, B (hw/gemm_buffer.py, read latency 3)
        _sequencer (mi, ni, k loops) ─► addresses ─► buffers ─► _dense_spreader
            ─► _operand_path (result credits) ─► SparseMMA ─► _results (D, job ends) ─► d
        _counters, _status

    Parameters
    ----------
    config : CoreConfig
        The core's parameters (tile shape, widths, N:M, pipeline, ``dsp``).
    a_depth, b_depth : int
        Words of the A and B buffers. One A word is one tile operation's A operand, one B
        word one ``tile_k × tile_n`` block of B; a job needs
        ``M_TILES * K_TILES * (1 if sparse else m // n)`` A words and
        ``K_TILES * N_TILES`` B words.
    t_depth : int, optional
        Entries of the tile-wise kept-block table (``docs/tilewise.md``; default 256).
    checks : bool, optional
        Keyword-only, default ``False``: add Amaranth ``Assert`` statements (the core accepts
        every operation issued to it, and the core's own checks), which the Amaranth
        simulator checks; emitted Verilog is built without them.
    memory : str, optional
        Buffer implementation (:mod:`hw.gemm_buffer`): ``"generic"`` or ``"ecp5"`` (DP16KD
        with output registers). Default: ``"ecp5"`` for ``config.dsp == "ecp5"``, else
        ``"generic"``. Both have the same timing.

    Members
    -------
    csr_addr : In(8); csr_wdata : In(32); csr_we, csr_re : In(1); csr_rdata : Out(32)
        Register port (:mod:`hw.gemm_csr`): a write takes effect at the edge where ``csr_we``
        is high; ``csr_rdata`` holds the value read exactly :data:`CSR_READ_LATENCY` cycles
        after the cycle with ``csr_re``.
    ld_a, ld_b : In(stream.Signature(...))
        Buffer writes: ``payload.addr`` and ``payload.word`` (:func:`a_word_layout`,
        :func:`b_word_layout`). ``ready`` may go low (it is low in reset and the cycle
        after); a word is written when ``valid`` and ``ready`` are high.
    ld_t : In(stream.Signature(...))
        Kept-block table writes (tile-wise jobs): ``payload.addr``, ``payload.entry``
        (:func:`hw.kept_table.entry_layout`); ``ready`` as ``ld_a``.
    d : Out(stream.Signature(...))
        D tiles in (mi, ni) order, jobs in START order: ``payload.data``
        (:func:`d_tile_layout`), ``error`` (invalid metadata in this tile's operations) and
        ``last`` (last tile of its job).
    busy : Out(1)
        A job is queued, issuing, or owes D tiles.
    done : Out(1)
        Sticky: the engine went idle (every started job ended); cleared by START, CLEAR (a
        job that ends in the cycle of a CLEAR still sets it).
    cause : Out(CAUSE_WIDTH)
        Sticky :class:`Cause` bits of the jobs since the last CLEAR or START on an idle
        engine.

    Jobs queue: START copies the descriptor registers into a one-job queue and checks it
    there (:data:`CHECK_CYCLES`, registered); the job launches when the sequencer is free,
    so a job started while another runs follows it with one idle cycle. Throughput: one
    tile operation per cycle while D is not back-pressured. Latency: a job of ``T``
    operations on an idle engine with ``d.ready`` high is busy for :func:`busy_cycles`
    ``= T + START_LATENCY - 1 + latency`` cycles.

    Raises
    ------
    ConfigError
        If a depth is out of range, the pattern's ``m`` is not ``2 * n``, or ``memory`` is
        unknown or cannot hold the depth.
    """

    def __init__(self, config, *, a_depth, b_depth, memory=None, t_depth=DEFAULT_T_DEPTH,
                 checks=False, _fault=None):
        if not isinstance(config, CoreConfig):
            raise TypeError(f"config must be a CoreConfig, not {config!r}")
        if _fault not in (None, "clear_hides_done"):       # test-only (tests/test_formal.py)
            raise ValueError(f"_fault must be None or 'clear_hides_done', not {_fault!r}")
        self._fault = _fault
        self._checks = bool(checks)
        for name, depth in (("a_depth", a_depth), ("b_depth", b_depth)):
            if not isinstance(depth, int) or isinstance(depth, bool):
                raise ConfigError(f"{name} must be an integer, not {depth!r}")
            if not 1 <= depth <= MAX_DEPTH:
                raise ConfigError(f"{name} must be between 1 and {MAX_DEPTH}, not {depth}")
        if config.m != 2 * config.n:
            raise ConfigError(f"dense jobs need m == 2*n, not {config.n}:{config.m}")
        if memory is None:
            memory = "ecp5" if config.dsp == "ecp5" else "generic"
        if memory not in MEMORY_OPTIONS:
            raise ConfigError(f"memory must be one of "
                              f"{', '.join(repr(o) for o in MEMORY_OPTIONS)}, not {memory!r}")
        if memory == "ecp5":
            for name, depth in (("a_depth", a_depth), ("b_depth", b_depth)):
                if dp16kd_width(depth) is None:
                    raise ConfigError(f"{name} must be at most 16384 with memory='ecp5', "
                                      f"not {depth}")
        self.config = config
        self.a_depth = a_depth
        self.b_depth = b_depth
        self.memory = memory
        # Tile-wise kept-block table (hw/kept_table.py validates t_depth): five `last` read
        # ports for the sequencer's look-ahead, and the registered block read of the
        # address stages.
        from .kept_table import KeptTable, entry_layout
        self.table = KeptTable(t_depth, last_ports=5, dsp=config.dsp)
        self.t_depth = t_depth
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

    # --- the parts --------------------------------------------------------------------------

    def _loads(self, m, a_buf, b_buf):
        """Load streams → buffer write ports, through one register stage (the ports come
        from outside; the block RAMs' write pins get a register of their own)."""
        ld_ready = Signal(name="ld_ready")     # low in reset and the cycle after
        m.d.sync += ld_ready.eq(1)
        for stream_, buf, name in ((self.ld_a, a_buf, "a"), (self.ld_b, b_buf, "b")):
            en = Signal(name=f"ld_{name}_we")
            addr = Signal.like(buf.w_addr, name=f"ld_{name}_waddr")
            word = Signal(len(buf.w_data), name=f"ld_{name}_wdata")
            m.d.comb += stream_.ready.eq(ld_ready)
            m.d.sync += [en.eq(stream_.valid & ld_ready), addr.eq(stream_.payload.addr),
                         word.eq(stream_.payload.word)]
            m.d.comb += [buf.w_en.eq(en), buf.w_addr.eq(addr), buf.w_data.eq(word)]

    def _table_loads(self, m, table):
        """Tile-wise: ``ld_t`` → the kept-block table (ready as the operand loads)."""
        t_ready = Signal(name="ld_t_ready")    # low in reset and the cycle after
        m.d.sync += t_ready.eq(1)
        m.d.comb += [
            self.ld_t.ready.eq(t_ready),
            table.ld.valid.eq(self.ld_t.valid & t_ready),
            table.ld.payload.eq(self.ld_t.payload),
        ]

    def _job_queue(self, m, s, csr):
        """One waiting job: START copies the descriptor here; a serial multiplier, then
        registered sums and comparisons, check it (:data:`CHECK_CYCLES`); ``s.launch``
        hands it to the sequencer (or rejects it) when the sequencer is free."""
        cfg = self.config
        q = s.queue
        q.valid = Signal(name="q_valid")
        q.checked = Signal(name="q_checked")
        q.dense = Signal(name="q_dense")
        q.value = Signal(name="q_value_error")
        q.mt, q.nt, q.kt, q.a_base, q.b_base = (
            Signal(DIM_WIDTH, name=f"q_{n}") for n in ("mt", "nt", "kt", "a_base", "b_base"))
        q.kops = Signal(DIM_WIDTH + 1, name="q_kops")
        phase = Signal(range(CHECK_CYCLES + 1), name="q_phase")
        # Serial multipliers: mt·kops (A words) and kt·nt (B words).
        xa = Signal(2 * DIM_WIDTH + 1, name="q_mul_a_x")
        ya = Signal(DIM_WIDTH + 1, name="q_mul_a_y")
        pa = Signal(2 * DIM_WIDTH + 1, name="q_mul_a_p")
        xb = Signal(2 * DIM_WIDTH + 1, name="q_mul_b_x")
        yb = Signal(DIM_WIDTH + 1, name="q_mul_b_y")
        pb = Signal(2 * DIM_WIDTH + 1, name="q_mul_b_p")
        a_need = Signal(2 * DIM_WIDTH + 2, name="q_a_need")
        b_need = Signal(2 * DIM_WIDTH + 2, name="q_b_need")
        q.check = Signal(CAUSE_WIDTH, name="q_check")
        q.rejected = Signal(name="q_rejected")          # q.check != 0, as a register
        check = Signal(6, name="q_check_bits")         # the comparisons, registered
        # Tile-wise: the job's TW registers, and the table scan that ends its check.
        q.tw = Signal(name="q_tw")
        q.group = Signal(DIM_WIDTH, name="q_tw_group")
        q.t_base = Signal(DIM_WIDTH, name="q_tw_base")
        # TW_BASE + 1 … + 3 for the sequencer's look-ahead, and the next values of + 0 … + 2
        # (the table's `last` ports take next-cycle addresses).
        q.t_base_p = [q.t_base] + [Signal(DIM_WIDTH + 1, name=f"q_tw_base{k}")
                                   for k in (1, 2, 3)]
        q.t_base_nx = [Signal(DIM_WIDTH + 1, name=f"q_tw_base{k}_next") for k in range(3)]
        for k, nx in enumerate(q.t_base_nx):
            m.d.comb += nx.eq(Mux(s.capture, csr.rw_tw_base + k, q.t_base_p[k]))
        q.scanning = Signal(name="q_tw_scanning")
        scan_start = Signal(name="q_tw_scan_start")
        m.d.sync += scan_start.eq(0)
        m.d.comb += s.table.start.eq(scan_start)
        # Loop-end constants for the sequencer, computed here off its path.
        q.kops_m2 = Signal(DIM_WIDTH + 1, name="q_kops_m2")
        q.nt_m2 = Signal(DIM_WIDTH, name="q_nt_m2")
        q.mt_m2 = Signal(DIM_WIDTH, name="q_mt_m2")
        q.kops_is1, q.nt_is1, q.mt_is1 = (Signal(name=f"q_{n}_is1") for n in
                                          ("kops", "nt", "mt"))

        regs = {n: getattr(csr, f"rw_{n}") for n in
                ("m_tiles", "n_tiles", "k_tiles", "a_base", "b_base")}
        mode_dense = csr.rw_mode[0]
        kops_req = Mux(mode_dense, regs["k_tiles"] << (self.ops_per_k_tile.bit_length() - 1),
                       regs["k_tiles"])
        m.d.comb += [
            s.capture.eq(s.start & ~q.valid),
            s.refuse.eq(s.start & q.valid),
            s.launch.eq(q.valid & q.checked & ~s.issuing),
            s.rejected.eq(q.rejected),
        ]
        with m.If(s.capture):
            m.d.sync += [
                q.valid.eq(1), q.checked.eq(0), phase.eq(0),
                q.dense.eq(mode_dense), q.value.eq(s.value_error),
                q.mt.eq(regs["m_tiles"]), q.nt.eq(regs["n_tiles"]), q.kt.eq(regs["k_tiles"]),
                q.a_base.eq(regs["a_base"]), q.b_base.eq(regs["b_base"]),
                q.kops.eq(kops_req),
                xa.eq(regs["m_tiles"]), ya.eq(kops_req), pa.eq(0),
                xb.eq(regs["k_tiles"]), yb.eq(regs["n_tiles"]), pb.eq(0),
                q.tw.eq(csr.rw_tw_ctrl[0]), q.group.eq(csr.rw_tw_group),
                *(q.t_base_p[k].eq(csr.rw_tw_base + k) for k in range(4)), q.scanning.eq(0),
            ]
        with m.Elif(q.valid & ~q.checked & ~q.scanning):
            m.d.sync += phase.eq(phase + 1)
            with m.If(phase < _MUL_STEPS):
                m.d.sync += [xa.eq(xa << 1), ya.eq(ya >> 1), xb.eq(xb << 1), yb.eq(yb >> 1)]
                with m.If(ya[0]):
                    m.d.sync += pa.eq(pa + xa)
                with m.If(yb[0]):
                    m.d.sync += pb.eq(pb + xb)
            with m.Elif(phase == _MUL_STEPS):
                m.d.sync += [a_need.eq(q.a_base + pa), b_need.eq(q.b_base + pb)]
            with m.Elif(phase == _MUL_STEPS + 1):
                m.d.sync += check.eq(Cat(
                    (q.mt == 0) | (q.nt == 0) | (q.kt == 0),       # ZERO_DIM
                    (a_need > self.a_depth) & ~q.tw,               # A_RANGE (TW: below)
                    b_need > self.b_depth,                         # B_RANGE
                    Const(0, 1),                                   # META (jobs only)
                    ~q.dense if not cfg.sparse else Const(0, 1),   # MODE
                    q.value,                                       # VALUE
                ))
            with m.Else():
                m.d.sync += [
                    q.checked.eq(1), q.check.eq(check), q.rejected.eq(check.any()),
                    q.kops_m2.eq(q.kops - 2), q.kops_is1.eq(q.kops == 1),
                    q.nt_m2.eq(q.nt - 2), q.nt_is1.eq(q.nt == 1),
                    q.mt_m2.eq(q.mt - 2), q.mt_is1.eq(q.mt == 1),
                ]
                # Tile-wise: a job that passed scans its kept lists before it may launch.
                # The scan starts a cycle later, from a register: the start resets every
                # scan register, a wide fan-out that must not follow the verdict.
                with m.If(q.tw & ~check.any()):
                    m.d.sync += [q.checked.eq(0), q.scanning.eq(1), scan_start.eq(1)]
        self._tilewise_check(m, s)
        with m.If(s.launch):
            m.d.sync += q.valid.eq(0)

    def _tilewise_check(self, m, s):
        """Tile-wise: the table scan of the queued job (``hw/kept_table.py``); a bad list
        rejects it with TABLE, compact A words past the buffer with A_RANGE."""
        q, table = s.queue, s.table
        m.d.comb += [table.base.eq(q.t_base), table.m_tiles.eq(q.mt),
                     table.group_tiles.eq(q.group), table.k_tiles.eq(q.kt)]
        # The verdict a cycle after the scan: the A words it counted are summed (registered),
        # then compared, so no path runs through the sum and the comparison together.
        a_need = Signal(2 * DIM_WIDTH + 3, name="q_tw_a_need")
        scanned = Signal(name="q_tw_scanned")
        with m.If(q.scanning & table.done):
            m.d.sync += [a_need.eq(q.a_base + Mux(q.dense, table.a_rows << 1, table.a_rows)),
                         scanned.eq(1)]
        with m.If(scanned):
            m.d.sync += [
                scanned.eq(0), q.scanning.eq(0), q.checked.eq(1),
                q.check.eq(Mux(table.error != 0, Cause.TABLE,
                               Mux(a_need > self.a_depth, Cause.A_RANGE, 0))),
                q.rejected.eq((table.error != 0) | (a_need > self.a_depth)),
            ]

    def _sequencer(self, m, s):
        """The mi, ni, k loops of the running job: one operation per ``s.issue`` (the
        operation has no ``last`` or a result credit is left), its buffer addresses and
        flags. Loop ends are registered flags, updated with the counters."""
        q = s.queue
        seq = s.seq
        seq.dense = Signal(name="seq_dense")
        kops = Signal(DIM_WIDTH + 1, name="seq_kops")
        n_t = Signal(DIM_WIDTH, name="seq_nt")
        kops_m2 = Signal(DIM_WIDTH + 1, name="seq_kops_m2")
        nt_m2 = Signal(DIM_WIDTH, name="seq_nt_m2")
        mt_m2 = Signal(DIM_WIDTH, name="seq_mt_m2")
        kops_is1, nt_is1, mt_is1 = (Signal(name=f"seq_{n}_is1") for n in ("kops", "nt", "mt"))
        ki = Signal(DIM_WIDTH + 1, name="seq_ki")
        ni = Signal(DIM_WIDTH, name="seq_ni")
        mi = Signal(DIM_WIDTH, name="seq_mi")
        seq.first = Signal(name="seq_first")
        seq.last = Signal(name="seq_last")
        last_n = Signal(name="seq_last_n")
        last_m = Signal(name="seq_last_m")
        b_base = Signal(DIM_WIDTH + 1, name="seq_b_base")
        a_row = Signal(2 * DIM_WIDTH + 2, name="seq_a_row")
        seq.a_addr = Signal(2 * DIM_WIDTH + 2, name="seq_a_addr")
        b_col = Signal(2 * DIM_WIDTH + 2, name="seq_b_col")
        seq.b_addr = Signal(2 * DIM_WIDTH + 2, name="seq_b_addr")
        seq.half = ki[0]
        seq.job_last = Signal(name="seq_job_last")
        seq.ni, seq.b_base, seq.n_t = ni, b_base, n_t      # for the tile-wise B address
        m.d.comb += [
            s.issue.eq(s.issuing & (s.has_credit | ~seq.last)),
            seq.job_last.eq(seq.last & last_n & last_m),
        ]

        with m.If(s.launch & ~s.rejected):
            m.d.sync += [
                s.issuing.eq(1), seq.dense.eq(q.dense), kops.eq(q.kops), n_t.eq(q.nt),
                kops_m2.eq(q.kops_m2), nt_m2.eq(q.nt_m2), mt_m2.eq(q.mt_m2),
                kops_is1.eq(q.kops_is1), nt_is1.eq(q.nt_is1), mt_is1.eq(q.mt_is1),
                ki.eq(0), ni.eq(0), mi.eq(0),
                seq.first.eq(1), seq.last.eq(q.kops_is1), last_n.eq(q.nt_is1),
                last_m.eq(q.mt_is1),
                b_base.eq(q.b_base), a_row.eq(q.a_base), seq.a_addr.eq(q.a_base),
                b_col.eq(q.b_base), seq.b_addr.eq(q.b_base),
            ]
        # Tile-wise jobs walk the group's kept list (docs/tilewise.md §3) instead of every K
        # tile; the same registers (ki[0] = half, flags, addresses) describe the next op.
        seq.tw = Signal(name="seq_tw")
        with m.If(s.launch & ~s.rejected):
            m.d.sync += seq.tw.eq(q.tw)
        self._tilewise_sequencer(m, s, dict(
            ki=ki, ni=ni, mi=mi, last_n=last_n, last_m=last_m, b_base=b_base, a_row=a_row,
            n_t=n_t, nt_m2=nt_m2, mt_m2=mt_m2, nt_is1=nt_is1))
        with m.If(s.issue & ~seq.tw):
            with m.If(seq.last):
                m.d.sync += [ki.eq(0), seq.first.eq(1), seq.last.eq(kops_is1),
                             seq.a_addr.eq(a_row)]
                with m.If(last_n):
                    m.d.sync += [
                        ni.eq(0), last_n.eq(nt_is1), mi.eq(mi + 1), last_m.eq(mi == mt_m2),
                        a_row.eq(a_row + kops), seq.a_addr.eq(a_row + kops),
                        b_col.eq(b_base), seq.b_addr.eq(b_base),
                    ]
                    with m.If(last_m):
                        m.d.sync += s.issuing.eq(0)
                with m.Else():
                    m.d.sync += [ni.eq(ni + 1), last_n.eq(ni == nt_m2),
                                 b_col.eq(b_col + 1), seq.b_addr.eq(b_col + 1)]
            with m.Else():
                m.d.sync += [ki.eq(ki + 1), seq.first.eq(0), seq.last.eq(ki == kops_m2),
                             seq.a_addr.eq(seq.a_addr + 1)]
                # Dense jobs read each B word twice (both halves) before moving on.
                with m.If(~seq.dense | ki[0]):
                    m.d.sync += seq.b_addr.eq(seq.b_addr + n_t)

    def _tilewise_sequencer(self, m, s, v):
        """Tile-wise jobs: per (mi, ni) one operation per entry of the group's kept list (two,
        both halves, when dense). ``v``: the plain sequencer's loop registers, shared."""
        q, seq, table = s.queue, s.seq, s.table
        ki, ni, mi = v["ki"], v["ni"], v["mi"]
        w = DIM_WIDTH + 1
        t_addr = Signal(w, name="tw_t_addr")       # entry of the current op
        t_next = Signal(w, name="tw_t_next")       # t_addr + 1
        t_ahead = Signal(w, name="tw_t_ahead")     # t_addr + 3
        t_first = Signal(w, name="tw_t_first")     # first entry of the group's list
        t_first1 = Signal(w, name="tw_t_first1")   # t_first + 1
        t_first2 = Signal(w, name="tw_t_first2")   # t_first + 2
        gi = Signal(DIM_WIDTH, name="tw_gi")       # tile row inside the group
        group_m2 = Signal(DIM_WIDTH, name="tw_group_m2")     # TW_GROUP - 2
        gi_last = Signal(name="tw_gi_last")                 # gi == TW_GROUP - 1
        group_is1 = Signal(name="tw_group_is1")
        # `last` flags of the entries the next decisions need, read ahead into registers:
        # the current entry, the two after it, the list's first two. The decision only
        # shifts them; the table reads (at t_addr + 3, t_first + 2 and the queued job's first
        # three entries) go to registers, so no path runs decision → table → decision.
        cur = Signal(name="tw_last_cur")
        nxt1 = Signal(name="tw_last_next1")
        nxt2 = Signal(name="tw_last_next2")
        fst0 = Signal(name="tw_last_first0")
        fst1 = Signal(name="tw_last_first1")
        ahead, first2, base0, base1, base2 = (table.last_data[i] for i in range(5))
        # The table's `last` ports take next-cycle addresses (their address registers are
        # the table's own): the next values of t_ahead, t_first2 and the queue's bases.
        t_ahead_nx = Signal(w, name="tw_t_ahead_next")
        t_first2_nx = Signal(w, name="tw_t_first2_next")
        m.d.comb += [t_ahead_nx.eq(t_ahead), t_first2_nx.eq(t_first2)]
        m.d.sync += [t_ahead.eq(t_ahead_nx), t_first2.eq(t_first2_nx)]
        m.d.comb += [
            table.last_addr[0].eq(t_ahead_nx),
            table.last_addr[1].eq(t_first2_nx),
            *(table.last_addr[2 + k].eq(q.t_base_nx[k]) for k in range(3)),
        ]
        # The op's B word, B_BASE + ni + block·N_TILES with block = table[t_addr], is formed
        # in the address stages (_address_stages): here only the loop state and `last`.
        seq.t_addr = t_addr
        dense = seq.dense

        def advance():
            """To the next entry of the list (also the first of the next group's)."""
            return [t_addr.eq(t_next), t_next.eq(t_next + 1), cur.eq(nxt1), nxt1.eq(nxt2),
                    nxt2.eq(ahead), seq.last.eq(nxt1 & ~dense)]

        def restart():
            """Back to the first entry of the group's list."""
            return [t_addr.eq(t_first), t_next.eq(t_first1), cur.eq(fst0), nxt1.eq(fst1),
                    nxt2.eq(first2), seq.last.eq(fst0 & ~dense)]

        with m.If(s.launch & ~s.rejected & q.tw):
            m.d.comb += [t_ahead_nx.eq(q.t_base_p[3]), t_first2_nx.eq(q.t_base_p[2])]
            m.d.sync += [
                t_addr.eq(q.t_base), t_next.eq(q.t_base_p[1]), t_first.eq(q.t_base),
                t_first1.eq(q.t_base_p[1]), gi.eq(0), group_m2.eq(q.group - 2),
                gi_last.eq(q.group == 1), group_is1.eq(q.group == 1),
                cur.eq(base0), nxt1.eq(base1), nxt2.eq(base2), fst0.eq(base0),
                fst1.eq(base1), seq.last.eq(base0 & ~q.dense),
            ]
        with m.If(s.issue & seq.tw):
            m.d.sync += seq.a_addr.eq(seq.a_addr + 1)
            with m.If(dense & ~ki[0]):
                # Second half of the same block.
                m.d.sync += [ki.eq(1), seq.first.eq(0), seq.last.eq(cur)]
            with m.Elif(~seq.last):
                m.d.sync += [ki.eq(0), seq.first.eq(0), *advance()]
                m.d.comb += t_ahead_nx.eq(t_ahead + 1)
            with m.Else():
                m.d.sync += [ki.eq(0), seq.first.eq(1)]
                with m.If(~v["last_n"]):
                    m.d.sync += [ni.eq(ni + 1), v["last_n"].eq(ni == v["nt_m2"]),
                                 seq.a_addr.eq(v["a_row"]), *restart()]
                    m.d.comb += t_ahead_nx.eq(t_first2 + 1)
                with m.Else():
                    m.d.sync += [ni.eq(0), v["last_n"].eq(v["nt_is1"]), mi.eq(mi + 1),
                                 v["last_m"].eq(mi == v["mt_m2"]),
                                 v["a_row"].eq(seq.a_addr + 1)]
                    with m.If(gi_last):
                        # The next group's list starts after this one.
                        m.d.sync += [gi.eq(0), gi_last.eq(group_is1),
                                     t_first.eq(t_next), t_first1.eq(t_next + 1),
                                     fst0.eq(nxt1), fst1.eq(nxt2), *advance()]
                        m.d.comb += [t_ahead_nx.eq(t_ahead + 1), t_first2_nx.eq(t_ahead)]
                    with m.Else():
                        m.d.sync += [gi.eq(gi + 1), gi_last.eq(gi == group_m2), *restart()]
                        m.d.comb += t_ahead_nx.eq(t_first2 + 1)
                    with m.If(v["last_m"]):
                        m.d.sync += s.issuing.eq(0)

    def _dense_spreader(self, m, a_word, b_raw, dense_early, half_early, dense):
        """The core's operands from the buffer words: as read for sparse jobs; for dense
        jobs the metadata "positions 0 … n-1" and half ``half`` of the B word, dense row
        ``g·n + s`` placed at row ``g·m + s`` (architecture §5). Returns (meta, b).

        The B multiplexers' selects are register copies of ``dense_early`` and
        ``half_early`` (the flags a cycle before the buffer words), one per
        :data:`_SELECT_CHUNK` B bits that use them, so no select fans out to the whole
        word; ``dense`` selects the metadata (few bits)."""
        cfg = self.config
        b_bits = self.b_layout.size

        def copies(name, value, count):
            m.submodules[name] = regs = RegisterCopies(1, count, dsp=cfg.dsp)
            m.d.comb += regs.i.eq(value)
            return [regs.o[k] for k in range(count)]

        def chunks_of(bits):
            return [(lo, min(lo + _SELECT_CHUNK, bits)) for lo in range(0, bits, _SELECT_CHUNK)]

        chunks = chunks_of(b_bits)
        if not cfg.sparse:
            half_bits = b_bits // 2
            chunks = chunks_of(half_bits)
            halves = copies("spread_half", half_early, len(chunks))
            out = Signal(half_bits, name="op_b")
            for (lo, hi), h in zip(chunks, halves):
                m.d.comb += out[lo:hi].eq(Mux(h, b_raw[half_bits + lo:half_bits + hi],
                                              b_raw[lo:hi]))
            return None, out
        # The B tile a dense job's half h of the B word becomes: dense row j of the half at
        # row g·m + r (j = g·n + r), the other rows zero. Wiring only.
        row_bits = cfg.tile_n * cfg.b_width
        half_rows = cfg.kept_k
        spread = []
        for h in range(2):
            rows = [Const(0, row_bits)] * cfg.tile_k
            for j in range(half_rows):
                g, r = divmod(j, cfg.n)
                lo = (h * half_rows + j) * row_bits
                rows[g * cfg.m + r] = b_raw[lo:lo + row_bits]
            spread.append(Cat(*rows))
        # Chunks of rows that a dense job leaves zero need only `dense`.
        spread_chunk = [any(((lo + i) // row_bits) % cfg.m < cfg.n for i in range(hi - lo))
                        for lo, hi in chunks]
        denses = copies("spread_dense", dense_early, len(chunks))
        halves = iter(copies("spread_half", half_early, sum(spread_chunk)))
        b = Signal(b_bits, name="op_b")
        for (lo, hi), d_c, needs_half in zip(chunks, denses, spread_chunk):
            dense_b = Mux(next(halves), spread[1][lo:hi], spread[0][lo:hi]) if needs_half \
                else Const(0, hi - lo)
            m.d.comb += b[lo:hi].eq(Mux(d_c, dense_b, b_raw[lo:hi]))
        idx = cfg.index_width
        dense_meta = 0
        for j in range(cfg.kept_k):
            dense_meta |= (j % cfg.n) << (j * idx)
        meta = Signal(a_word.meta.shape(), name="op_meta")
        m.d.comb += meta.eq(Mux(dense, Cat(*([Const(dense_meta, cfg.meta_width)] * cfg.tile_m)),
                                a_word.meta))
        return meta, b

    def _address_stages(self, m, s):
        """The issued operation's buffer addresses and flags, :data:`ADDR_STAGES` registers
        after ``s.issue`` (free-running: no enable, the flags carry ``valid``).

        Plain jobs: the sequencer's addresses, delayed. Tile-wise jobs: the B word is
        ``B_BASE + ni + block · N_TILES``, ``block`` the table entry of the op: stage 1
        holds ``B_BASE + ni`` and the table read, stage 2 the block in a register, stages
        3 and 4 are the multiplier's input and output registers, stage 5 adds. No
        combinational path crosses the table, the multiplier and an adder together."""
        seq = s.seq
        stages = [Signal(_ADDR_STAGE, name=f"addr{i}") for i in range(1, ADDR_STAGES + 1)]
        first = stages[0]
        m.d.comb += s.table.blk_addr.eq(seq.t_addr)
        m.d.sync += [
            first.flags.valid.eq(s.issue), first.flags.first.eq(seq.first),
            first.flags.last.eq(seq.last), first.flags.job_last.eq(seq.job_last),
            first.flags.half.eq(seq.half), first.flags.dense.eq(seq.dense),
            first.tw.eq(seq.tw), first.a_addr.eq(seq.a_addr), first.n_t.eq(seq.n_t),
            first.b_addr.eq(Mux(seq.tw, seq.b_base + seq.ni, seq.b_addr)),
        ]
        for prev, stage in zip(stages, stages[1:-1]):
            m.d.sync += stage.eq(prev)
        # block · N_TILES: the block read registered, then 16 × 16 bits, unsigned, in a
        # registered multiplier (2 cycles).
        block = Signal(len(s.table.blk_data), name="tw_block")
        m.d.sync += block.eq(s.table.blk_data)
        m.submodules.tw_b_offset = mul = RegisteredMultiplier(
            DIM_WIDTH + 1, DIM_WIDTH + 1, dsp=self.config.dsp)
        m.d.comb += [mul.a.eq(block), mul.b.eq(stages[1].n_t)]
        offset = mul.p.as_unsigned()[:2 * DIM_WIDTH]
        last, before = stages[-1], stages[-2]
        m.d.sync += [
            last.flags.eq(before.flags), last.tw.eq(before.tw), last.a_addr.eq(before.a_addr),
            last.b_addr.eq(Mux(before.tw, before.b_addr + offset, before.b_addr)),
        ]
        return last

    def _operand_path(self, m, s, core, a_buf, b_buf):
        """Free-running buffer reads straight into the core, with the core's result credits
        kept here: an operation with ``last`` is issued only while the core's output FIFO
        has room for it counting every result issued and not yet taken from the core, so
        the core accepts every operation it is offered (its FIFO is :data:`FETCH_LATENCY`
        results deeper than its own credit loop needs, ``SparseMMA(fifo_extra=)``). No
        FIFO sits between the block RAMs' output registers and the core's input registers,
        and neither the core's ready nor any FIFO state reaches the block RAMs (their
        enables are constant): the sequencer's advance depends on registers only."""
        cfg = self.config
        op = self._address_stages(m, s)
        m.d.comb += [a_buf.r_addr.eq(op.a_addr), b_buf.r_addr.eq(op.b_addr)]
        # Flags travel beside the read, one register per cycle of the buffers' latency: the
        # last (f2) beside the block RAMs' output registers, the one before (f1) beside
        # their read latch.
        flags = [Signal(_FLAGS, name=f"rd{i}") for i in range(1, READ_LATENCY + 1)]
        m.d.sync += [stage.eq(prev) for prev, stage in zip([op.flags] + flags, flags)]
        f1, f2 = flags[-2], flags[-1]
        a_word = data.View(self.a_layout, a_buf.r_data)
        meta, b = self._dense_spreader(m, a_word, b_buf.r_data, f1.dense, f1.half, f2.dense)
        m.d.comb += [
            core.a.valid.eq(f2.valid),
            core.b.valid.eq(f2.valid),
            core.a.payload.values.eq(a_word.values),
            core.a.payload.first.eq(f2.first),
            core.a.payload.last.eq(f2.last),
            core.b.payload.eq(b),
            s.accept.eq(f2.valid),
            s.op_dense.eq(f2.dense),
            s.op_job_last.eq(f2.job_last),
            s.op_last.eq(f2.last),
        ]
        if cfg.sparse:
            m.d.comb += core.a.payload.meta.eq(meta)
        if self._checks:
            # (In reset the core refuses everything; the flags are being cleared too.)
            m.d.sync += Assert(~f2.valid | core.a.ready | ResetSignal(),
                               "core refused an issued operation")
        # Result credits: the core's FIFO depth less the results issued (operations with
        # last) and not yet taken from the core.
        depth = core.fifo_depth
        credits = Signal(range(depth + 1), init=depth, name="result_credits")
        spend = s.issue & s.seq.last
        back = core.d.valid & core.d.ready
        m.d.sync += credits.eq(credits - spend + back)
        # credits != 0 after this edge, as a register (it gates every sequencer register).
        has_credit = Signal(init=1, name="result_has_credit")
        m.d.sync += has_credit.eq(Mux(spend & ~back, credits != 1,
                                      Mux(~spend & back, 1, credits != 0)))
        m.d.comb += s.has_credit.eq(has_credit)

    def _results(self, m, s, core):
        """D out: the core's results through a register slice (:data:`OUTPUT_LATENCY`), so
        ``d.valid``, ``d.payload`` and the core's ``d.ready`` are all flip-flops and D's
        handshake reaches the engine's accounting from registers only. ``last`` comes from a
        FIFO of job-end bits pushed with each accepted operation that carries ``last`` and
        taken with each result the slice takes from the core (the core's credits bound the
        results it holds to its FIFO depth, so this FIFO never overflows)."""
        depth = core.fifo_depth
        ends = Signal(depth, name="d_job_end")
        wr = Signal(range(depth), name="d_end_wr")
        rd = Signal(range(depth), name="d_end_rd")
        word = data.StructLayout({"data": self.d_layout, "error": 1, "last": 1})
        incoming = Signal(word, name="d_in")
        main = Signal(word, name="d_main", reset_less=True)
        skid = Signal(word, name="d_skid", reset_less=True)
        main_valid = Signal(name="d_main_valid")
        skid_valid = Signal(name="d_skid_valid")
        m.d.comb += [
            incoming.data.eq(core.d.payload.data),
            incoming.error.eq(core.d.payload.error),
            incoming.last.eq(ends.bit_select(rd, 1)),
            core.d.ready.eq(~skid_valid),
            self.d.valid.eq(main_valid),
            self.d.payload.data.eq(main.data),
            self.d.payload.error.eq(main.error),
            self.d.payload.last.eq(main.last),
            s.d_take.eq(self.d.valid & self.d.ready),
            s.job_end.eq(s.d_take & self.d.payload.last),
        ]
        # The main register loads whenever it is free or taken (from the skid register if
        # that holds a result); the skid register loads every cycle it is empty and the main
        # one is stalled. No enable depends on the core's late d.valid. The two valid bits
        # steer every bit of the slice: the data registers take them from register copies,
        # one per _SELECT_CHUNK bits, loaded with the same next values.
        main_next = Signal(name="d_main_valid_next")
        skid_next = Signal(name="d_skid_valid_next")
        m.d.comb += [main_next.eq(main_valid), skid_next.eq(skid_valid)]
        with m.If(self.d.ready | ~main_valid):
            m.d.comb += [main_next.eq(skid_valid | core.d.valid), skid_next.eq(0)]
        with m.Elif(~skid_valid):
            m.d.comb += skid_next.eq(core.d.valid)
        m.d.sync += [main_valid.eq(main_next), skid_valid.eq(skid_next)]
        bits = word.size
        chunks = -(-bits // _SELECT_CHUNK)
        m.submodules.d_slice_valid = copies = RegisterCopies(2, chunks, dsp=self.config.dsp)
        m.d.comb += copies.i.eq(Cat(main_next, skid_next))
        flat_main, flat_skid, flat_in = main.as_value(), skid.as_value(), incoming.as_value()
        for c in range(chunks):
            lo, hi = c * _SELECT_CHUNK, min((c + 1) * _SELECT_CHUNK, bits)
            main_c, skid_c = copies.o[c][0], copies.o[c][1]
            with m.If(self.d.ready | ~main_c):
                m.d.sync += flat_main[lo:hi].eq(Mux(skid_c, flat_skid[lo:hi], flat_in[lo:hi]))
            with m.Elif(~skid_c):
                m.d.sync += flat_skid[lo:hi].eq(flat_in[lo:hi])
        with m.If(s.accept & s.op_last):
            m.d.sync += wr.eq(Mux(wr == depth - 1, 0, wr + 1))
            for i in range(depth):
                with m.If(wr == i):
                    m.d.sync += ends[i].eq(s.op_job_last)
        with m.If(core.d.valid & core.d.ready):
            m.d.sync += rd.eq(Mux(rd == depth - 1, 0, rd + 1))

    def _status(self, m, s, core):
        """busy, done, cause; ``owed`` counts D tiles issued (operations with ``last``) and
        not yet delivered: at most the core's result credits and the output slice."""
        # The credits bound the results issued and not taken from the core; the output slice
        # holds two more.
        bound = core.fifo_depth + 2
        owed = Signal(max(8, ceil_log2(bound + 1)), name="owed_tiles")
        m.d.sync += owed.eq(owed + (s.issue & s.seq.last) - s.d_take)
        m.d.comb += s.busy.eq(s.queue.valid | s.issuing | (owed != 0))
        # Idle after this edge: nothing queued, issuing or owed.
        queued_next = (s.queue.valid & ~s.launch) | s.capture
        issuing_next = (s.issuing & ~(s.issue & s.seq.job_last)) | (s.launch & ~s.rejected)
        # owed == 0 after this edge, without an adder behind the late d_take: the register's
        # own comparisons, selected by what is added and taken.
        inc = s.issue & s.seq.last
        owed_next_is0 = Mux(inc, s.d_take & (owed == 0),
                            Mux(s.d_take, owed == 1, owed == 0))
        finish = Signal(name="finish")
        m.d.comb += finish.eq(s.busy & ~queued_next & ~issuing_next & owed_next_is0)
        events = Signal(CAUSE_WIDTH, name="cause_events")
        m.d.comb += events.eq(
            Mux(s.launch & s.rejected, s.queue.check, 0)
            | Mux(s.refuse, Cause.QUEUE, 0)
            | Mux(s.d_take & self.d.payload.error, Cause.META, 0))
        with m.If(s.clear | (s.capture & ~s.busy)):
            m.d.sync += s.cause.eq(events)
        with m.Else():
            m.d.sync += s.cause.eq(s.cause | events)
        # A job that ends in the cycle of a CLEAR still reports DONE (found by the formal
        # job_outcome property: the host would wait for a DONE that never came). START
        # cannot coincide with the end: a START while busy queues its job.
        if self._fault == "clear_hides_done":    # the bug the proof found, for the proofs
            with m.If(s.clear | s.capture):
                m.d.sync += s.done.eq(0)
            with m.Elif(finish):
                m.d.sync += s.done.eq(1)
        else:
            with m.If(finish):
                m.d.sync += s.done.eq(1)
            with m.Elif(s.clear | s.capture):
                m.d.sync += s.done.eq(0)
        # A write that did not fit its register: the next START is rejected with VALUE.
        with m.If(s.csr_value_error):
            m.d.sync += s.value_error.eq(1)
        with m.If(s.clear | s.capture):
            m.d.sync += s.value_error.eq(0)

    def _counters(self, m, s):
        """The 64-bit performance counters (``docs/gemm.md`` §5)."""
        cfg = self.config
        counters = {name: Signal(COUNTER_WIDTH, name=f"cnt_{name}") for name, _ in COUNTERS}
        stall_out = Signal(name="stall_out")
        m.d.comb += stall_out.eq(s.busy & ~s.accept & self.d.valid & ~self.d.ready)
        macs_sparse = cfg.tile_m * cfg.tile_n * cfg.tile_k
        macs_dense = cfg.tile_m * cfg.tile_n * cfg.kept_k
        # The events are registered before they are counted: d.valid and d.ready arrive
        # late in the cycle, and must not also cross a 64-bit carry chain. A counter thus
        # shows an event one cycle after it; the totals are the same (an event in the cycle
        # of CLEAR_COUNTERS is not counted, as before).
        ev = Signal(data.StructLayout({"busy": 1, "stall_out": 1, "stall_in": 1,
                                       "accept": 1, "dense": 1, "d_take": 1, "ended": 2}),
                    name="cnt_events")
        with m.If(~s.clear_counters):
            m.d.sync += [
                ev.busy.eq(s.busy), ev.stall_out.eq(stall_out),
                ev.stall_in.eq(s.busy & ~s.accept & ~stall_out), ev.accept.eq(s.accept),
                ev.dense.eq(s.op_dense), ev.d_take.eq(s.d_take),
                ev.ended.eq(s.job_end + (s.launch & s.rejected)),
            ]
        with m.Else():
            m.d.sync += ev.eq(0)
        with m.If(s.clear_counters):
            m.d.sync += [c.eq(0) for c in counters.values()]
        with m.Else():
            m.d.sync += counters["cycles"].eq(counters["cycles"] + 1)
            with m.If(ev.busy):
                m.d.sync += counters["busy_cycles"].eq(counters["busy_cycles"] + 1)
            with m.If(ev.stall_out):
                m.d.sync += counters["stall_out"].eq(counters["stall_out"] + 1)
            with m.If(ev.stall_in):
                m.d.sync += counters["stall_in"].eq(counters["stall_in"] + 1)
            with m.If(ev.accept):
                m.d.sync += [
                    counters["tile_ops"].eq(counters["tile_ops"] + 1),
                    counters["macs"].eq(counters["macs"] +
                                        Mux(ev.dense, macs_dense, macs_sparse)),
                ]
            with m.If(ev.d_take):
                m.d.sync += counters["d_tiles"].eq(counters["d_tiles"] + 1)
            m.d.sync += counters["jobs"].eq(counters["jobs"] + ev.ended)
        return counters

    def elaborate(self, platform):
        from types import SimpleNamespace

        from .core import SparseMMA

        cfg = self.config
        m = Module()
        m.submodules.core = core = SparseMMA(cfg, fifo_extra=FETCH_LATENCY,
                                             registered_valid=True, checks=self._checks)
        m.submodules.csr = csr = CsrFile()
        m.submodules.a_buf = a_buf = OperandBuffer(self.a_layout.size, self.a_depth,
                                                   memory=self.memory)
        m.submodules.b_buf = b_buf = OperandBuffer(self.b_layout.size, self.b_depth,
                                                   memory=self.memory)
        m.d.comb += [
            csr.addr.eq(self.csr_addr), csr.wdata.eq(self.csr_wdata),
            csr.we.eq(self.csr_we), csr.re.eq(self.csr_re), self.csr_rdata.eq(csr.rdata),
        ]
        # Signals the parts share.
        s = SimpleNamespace(queue=SimpleNamespace(), seq=SimpleNamespace())
        for name in ("capture", "refuse", "launch", "rejected", "issuing", "issue",
                     "has_credit", "accept", "op_dense", "op_job_last", "op_last", "d_take",
                     "job_end", "busy", "done", "value_error"):
            setattr(s, name, Signal(name=name))
        s.cause = Signal(CAUSE_WIDTH, name="cause")
        s.start, s.clear, s.clear_counters = (csr.wo_ctrl_start, csr.wo_ctrl_clear,
                                              csr.wo_ctrl_clear_counters)
        s.csr_value_error = csr.value_error

        m.submodules.table = s.table = self.table            # tile-wise kept-block table
        self._loads(m, a_buf, b_buf)
        self._table_loads(m, self.table)
        self._job_queue(m, s, csr)
        self._sequencer(m, s)
        self._operand_path(m, s, core, a_buf, b_buf)
        self._results(m, s, core)
        self._status(m, s, core)
        counters = self._counters(m, s)

        # --- read-only registers ---------------------------------------------------------------
        info = (cfg.tile_m | cfg.tile_n << 8 | cfg.tile_k << 16 | cfg.n << 24 | cfg.m << 28)
        widths = (cfg.a_width | cfg.b_width << 8 | cfg.acc_width << 16 | int(cfg.sparse) << 24)
        m.d.comb += [
            csr.ro_status.eq(Cat(s.busy, s.done, s.cause.any(), s.queue.valid, Const(0, 4),
                                 s.cause)),
            csr.ro_info.eq(info & 0xFFFFFFFF),
            csr.ro_a_depth.eq(self.a_depth),
            csr.ro_b_depth.eq(self.b_depth),
            csr.ro_widths.eq(widths),
            # tile-wise job
            csr.ro_tw_depth.eq(self.t_depth),
            csr.ro_tw_err.eq(self.table.error),
            csr.ro_tw_err_at.eq(Cat(self.table.err_entry, self.table.err_group)),
        ]
        for name, counter in counters.items():
            m.d.comb += getattr(csr, f"cnt_{name}").eq(counter)
        m.d.comb += [self.busy.eq(s.busy), self.done.eq(s.done), self.cause.eq(s.cause)]
        return m
