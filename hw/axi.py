"""The GEMM engine as a drop-in IP core: AXI4-Lite registers, AXI4-Stream operands (B
optionally zero-value compressed), AXI4-Stream results and a level-sensitive interrupt.

``docs/axi.md`` is the user's documentation (ports, stream formats, host sequence, register
map, error causes). Block diagram::

    s_axil ─► AxiLiteSlave ─► CSR port ─┬─► GemmEngine registers (0x00–0x3F)
                                        └─► wrapper registers (0x40–0x7F, hw/axi_regs.py)
    s_axis_a ─► AxisLoader ───────────────────────────► engine ld_a
    s_axis_b ─┬► AxisLoader (dense) ──────────────────┐
              └► ZvcExpander ─► AxisLoader (1 word) ──┴► engine ld_b
    TW_LOAD_ADDR / TW_LOAD_ENTRY writes ───────────────► engine ld_t
    engine d ─► int32 words ─► AxisResultStreamer ───► m_axis_d
"""

from amaranth.hdl import Cat, Const, Module, Mux, ResetInserter, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from . import gemm
from .axi_lite import AxiLiteSignature, AxiLiteSlave
from .axi_regs import ALL_REGISTERS, AXI_REGISTERS, BusCause, Irq, LoadCtrl
from .axi_stream import BEAT_BYTES, AxisLoader, AxisResultStreamer, axis_layout, _popcount
from .config import ConfigError, CoreConfig
from .zvc import ZvcExpander, ZvcStatus, _check_params as _check_zvc_params

__all__ = ["AxiGemmEngine", "AxisSignature", "CSR_READ_LATENCY", "RESULT_BYTES"]

#: Register-port read latency of the engine (ENGINE.md §2); 1 for an engine that predates it.
CSR_READ_LATENCY = getattr(gemm, "CSR_READ_LATENCY", 1)
#: Every D element leaves as a little-endian int32.
RESULT_BYTES = 4
#: First word address of the wrapper's own registers.
WRAPPER_BASE = 0x40


class AxisSignature(wiring.Signature):
    """An AXI4-Stream port seen from the master: ``tdata``, ``tkeep``, ``tlast``, ``tvalid``,
    ``tready`` (the names cocotbext-axi's ``AxiStreamBus.from_prefix`` expects)."""

    def __init__(self, beat_bytes):
        super().__init__({"tdata": Out(8 * beat_bytes), "tkeep": Out(beat_bytes),
                          "tlast": Out(1), "tvalid": Out(1), "tready": In(1)})


class AxiGemmEngine(wiring.Component):
    """:class:`hw.gemm.GemmEngine` behind AXI4-Lite and AXI4-Stream ports.

    Parameters
    ----------
    config : CoreConfig
    a_depth, b_depth : int
        Buffer words, as for :class:`~hw.gemm.GemmEngine`.
    beat_bytes : int
        Bytes per beat of the three streams: 4, 8 (default), 16 or 32 (32 … 256 bits).
    zvc : bool
        Put a :class:`~hw.zvc.ZvcExpander` on the B path (default); needs ``b_width`` of 8,
        16 or 32 (the ZVC word is one B element).
    zvc_block_words : int
        W of the expander (default 32).

    Members
    -------
    s_axil : ``In(AxiLiteSignature())``
        Registers (:data:`hw.axi_regs.ALL_REGISTERS`, byte address = 4 × word address).
    s_axis_a, s_axis_b : ``In(AxisSignature(beat_bytes))``
        Operand streams: A buffer words, B buffer words (dense) or their ZVC stream.
    m_axis_d : ``Out(AxisSignature(beat_bytes))``
        D as int32 words: per tile row-major, tiles in the engine's (mi, ni) order,
        ``tlast`` on the job's last beat.
    irq : ``Out(1)``
        ``|(IRQ_PENDING & IRQ_ENABLE)``, registered.

    Raises
    ------
    ConfigError
        On a bad parameter; the message names it.
    """

    def __init__(self, config, *, a_depth, b_depth, beat_bytes=8, zvc=True,
                 zvc_block_words=32):
        if not isinstance(config, CoreConfig):
            raise TypeError(f"config must be a CoreConfig, not {config!r}")
        if not isinstance(beat_bytes, int) or isinstance(beat_bytes, bool) or \
                beat_bytes not in BEAT_BYTES:
            raise ConfigError(f"beat_bytes must be one of {', '.join(map(str, BEAT_BYTES))}, "
                              f"not {beat_bytes!r}")
        if config.acc_width > 32:
            raise ConfigError(f"results leave as int32: acc_width must be at most 32, "
                              f"not {config.acc_width}")
        if zvc and config.b_width not in (8, 16, 32):
            raise ConfigError(f"zvc needs b_width of 8, 16 or 32 (one ZVC word per element), "
                              f"not {config.b_width}")
        self.config = config
        self.a_depth = a_depth
        self.b_depth = b_depth
        self.beat_bytes = beat_bytes
        self.zvc = bool(zvc)
        self.zvc_block_words = zvc_block_words
        self.engine = gemm.GemmEngine(config, a_depth=a_depth, b_depth=b_depth)
        self.a_word_bytes = -(-self.engine.a_layout.size // 8)
        self.b_word_bytes = -(-self.engine.b_layout.size // 8)
        self.tile_bytes = config.tile_m * config.tile_n * RESULT_BYTES
        if self.zvc:
            # Checks W and the beat's word count (raises ValueError naming them).
            self._zvc_args = dict(block_words=zvc_block_words,
                                  beat_words=beat_bytes // (config.b_width // 8))
            _check_zvc_params(config.b_width, **self._zvc_args)
        super().__init__({
            "s_axil": In(AxiLiteSignature()),
            "s_axis_a": In(AxisSignature(beat_bytes)),
            "s_axis_b": In(AxisSignature(beat_bytes)),
            "m_axis_d": Out(AxisSignature(beat_bytes)),
            "irq": Out(1),
        })

    @staticmethod
    def _axis_in(m, port, sink):
        m.d.comb += [sink.valid.eq(port.tvalid), sink.payload.data.eq(port.tdata),
                     sink.payload.keep.eq(port.tkeep), sink.payload.last.eq(port.tlast),
                     port.tready.eq(sink.ready)]

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        bb = self.beat_bytes
        m.submodules.engine = engine = self.engine
        latency = CSR_READ_LATENCY

        # --- AXI4-Lite → register port ------------------------------------------------------
        m.submodules.axil = axil = AxiLiteSlave(ALL_REGISTERS, read_latency=latency)
        wiring.connect(m, bus=wiring.flipped(self.s_axil), slave=axil.bus)
        local = axil.csr_addr >= WRAPPER_BASE
        width = len(engine.csr_addr)
        m.d.comb += [
            engine.csr_addr.eq(axil.csr_addr[:width]),
            engine.csr_wdata.eq(axil.csr_wdata),
            engine.csr_we.eq(axil.csr_we & ~local),
        ]
        if hasattr(engine, "csr_re"):
            m.d.comb += engine.csr_re.eq(axil.csr_re & ~local)
        we = axil.csr_we & local
        wdata = axil.csr_wdata

        def written(name):
            return we & (axil.csr_addr == AXI_REGISTERS[name].addr)

        # --- the wrapper's registers ----------------------------------------------------------
        rw = {name: Signal(AXI_REGISTERS[name].mask.bit_length(), name=f"reg_{name.lower()}")
              for name in ("A_LOAD_BASE", "A_LOAD_WORDS", "B_LOAD_BASE", "B_LOAD_WORDS",
                           "B_LOAD_MODE", "IRQ_ENABLE", "TW_LOAD_ADDR")}
        for name, reg in rw.items():
            with m.If(written(name)):
                m.d.sync += reg.eq(wdata)

        # --- kept-block table writes: one entry per TW_LOAD_ENTRY write ---------------------
        # The engine's ld_t is ready except in reset and the cycle after, when no AXI4-Lite
        # write can arrive; an address past the table drops the entry with T_RANGE.
        t_write = written("TW_LOAD_ENTRY")
        t_addr = rw["TW_LOAD_ADDR"]
        t_range = Signal()
        m.d.comb += [
            t_range.eq(t_write & (t_addr >= engine.t_depth)),
            engine.ld_t.valid.eq(t_write & ~t_range),
            engine.ld_t.payload.addr.eq(t_addr),
            engine.ld_t.payload.entry.block.eq(wdata[:16]),
            engine.ld_t.payload.entry.last.eq(wdata[16]),
        ]
        with m.If(t_write):                 # (a write to TW_LOAD_ADDR is another cycle)
            m.d.sync += t_addr.eq(t_addr + 1)
        strobe = Signal(3)
        m.d.comb += strobe.eq(Mux(written("LOAD_CTRL"), wdata, 0))
        pending = Signal(2)
        bus_cause = Signal(len(BusCause))
        cause_set = Signal(len(BusCause))
        clear_zvc = Signal()
        m.d.comb += clear_zvc.eq(written("BUS_CAUSE") & wdata[BusCause.ZVC.bit_length() - 1])

        # --- operand streams ----------------------------------------------------------------
        m.submodules.load_a = load_a = AxisLoader(engine.a_layout.size, beat_bytes=bb,
                                                  depth=self.a_depth)
        m.submodules.load_b = load_b = AxisLoader(engine.b_layout.size, beat_bytes=bb,
                                                  depth=self.b_depth)
        self._axis_in(m, self.s_axis_a, load_a.i)
        m.d.comb += [
            load_a.arm.eq(strobe[0]), load_a.base.eq(rw["A_LOAD_BASE"]),
            load_a.words.eq(rw["A_LOAD_WORDS"]), load_a.abort.eq(strobe[2]),
            engine.ld_a.valid.eq(load_a.o.valid), load_a.o.ready.eq(engine.ld_a.ready),
            engine.ld_a.payload.addr.eq(load_a.o.payload.addr),
            engine.ld_a.payload.word.eq(load_a.o.payload.word),
        ]
        zvc_mode = rw["B_LOAD_MODE"][0]
        b_zvc = Signal()                        # the armed B descriptor is a ZVC one
        m.d.comb += [load_b.base.eq(rw["B_LOAD_BASE"]), load_b.words.eq(rw["B_LOAD_WORDS"])]
        zvc_error = Signal()
        if self.zvc:
            ww = cfg.b_width
            wbytes = ww // 8
            m.submodules.load_z = load_z = AxisLoader(engine.b_layout.size, beat_bytes=wbytes,
                                                      depth=self.b_depth)
            m.submodules.expander = expander = ZvcExpander(ww, **self._zvc_args)
            m.d.comb += expander.clear.eq(clear_zvc)
            m.d.comb += [load_z.base.eq(rw["B_LOAD_BASE"]), load_z.words.eq(rw["B_LOAD_WORDS"])]
            # AXI beat → expander beat: tkeep becomes a word count; an impossible tkeep
            # becomes an impossible count, which the expander reports as TRUNCATED.
            port = self.s_axis_b
            beat_words = bb // wbytes
            nkeep = _popcount(port.tkeep)
            contiguous = (((port.tkeep + 1) & port.tkeep) == 0) & (port.tkeep != 0)
            whole = (nkeep % wbytes == 0) if wbytes > 1 else 1
            count = Signal(range(beat_words + 1))
            with m.If(port.tlast):
                m.d.comb += count.eq(Mux(contiguous & whole, nkeep // wbytes, 0))
            with m.Else():
                m.d.comb += count.eq(Mux(port.tkeep == (1 << bb) - 1, beat_words, 0))
            with m.If(zvc_mode):
                m.d.comb += [
                    expander.i.valid.eq(port.tvalid),
                    expander.i.payload.data.eq(port.tdata),
                    expander.i.payload.count.eq(count),
                    expander.i.payload.last.eq(port.tlast),
                    port.tready.eq(expander.i.ready),
                ]
            with m.Else():
                m.d.comb += [
                    load_b.i.valid.eq(port.tvalid), load_b.i.payload.data.eq(port.tdata),
                    load_b.i.payload.keep.eq(port.tkeep), load_b.i.payload.last.eq(port.tlast),
                    port.tready.eq(load_b.i.ready),
                ]
            m.d.comb += [
                load_z.i.valid.eq(expander.o.valid),
                load_z.i.payload.data.eq(expander.o.payload.data),
                load_z.i.payload.keep.eq((1 << wbytes) - 1),
                load_z.i.payload.last.eq(expander.o.payload.last),
                expander.o.ready.eq(load_z.i.ready),
            ]
            error_seen = Signal()
            m.d.sync += error_seen.eq(expander.error != ZvcStatus.OK)
            m.d.comb += zvc_error.eq((expander.error != ZvcStatus.OK) & ~error_seen)
            with m.If(clear_zvc):
                m.d.sync += error_seen.eq(0)
            m.d.comb += [
                load_z.arm.eq(strobe[1] & zvc_mode),
                load_z.abort.eq(strobe[2] | zvc_error),
                load_b.arm.eq(strobe[1] & ~zvc_mode),
                load_b.abort.eq(strobe[2]),
            ]
            with m.If(strobe[1] & ~load_b.armed & ~load_z.armed):
                m.d.sync += b_zvc.eq(zvc_mode)
            b_sel = b_zvc
            zvc_code = expander.error
            b_armed = load_b.armed | load_z.armed
            b_loaded = Mux(b_zvc, load_z.loaded, load_b.loaded)
            b_err = {name: getattr(load_b, f"err_{name}") | getattr(load_z, f"err_{name}")
                     for name in ("short", "long", "range", "keep", "arm")}
        else:
            self._axis_in(m, self.s_axis_b, load_b.i)
            m.d.comb += [load_b.arm.eq(strobe[1]), load_b.abort.eq(strobe[2])]
            b_sel = Const(0)
            zvc_code = Const(0, 3)
            b_armed = load_b.armed
            b_loaded = load_b.loaded
            b_err = {name: getattr(load_b, f"err_{name}")
                     for name in ("short", "long", "range", "keep", "arm")}
        with m.If(b_sel):
            m.d.comb += [engine.ld_b.valid.eq(load_z.o.valid),
                         load_z.o.ready.eq(engine.ld_b.ready),
                         engine.ld_b.payload.addr.eq(load_z.o.payload.addr),
                         engine.ld_b.payload.word.eq(load_z.o.payload.word)]
        with m.Else():
            m.d.comb += [engine.ld_b.valid.eq(load_b.o.valid),
                         load_b.o.ready.eq(engine.ld_b.ready),
                         engine.ld_b.payload.addr.eq(load_b.o.payload.addr),
                         engine.ld_b.payload.word.eq(load_b.o.payload.word)]

        # --- results ------------------------------------------------------------------------
        m.submodules.results = results = AxisResultStreamer(self.tile_bytes, beat_bytes=bb)
        words = []
        for r in range(cfg.tile_m):
            for c in range(cfg.tile_n):
                element = engine.d.payload.data[r][c]
                words.append(Cat(element,
                                 element[-1].replicate(32 - cfg.acc_width)))
        m.d.comb += [
            results.i.valid.eq(engine.d.valid), engine.d.ready.eq(results.i.ready),
            results.i.payload.data.eq(Cat(*words)),
            results.i.payload.last.eq(engine.d.payload.last),
            self.m_axis_d.tvalid.eq(results.o.valid), results.o.ready.eq(self.m_axis_d.tready),
            self.m_axis_d.tdata.eq(results.o.payload.data),
            self.m_axis_d.tkeep.eq(results.o.payload.keep),
            self.m_axis_d.tlast.eq(results.o.payload.last),
        ]

        # --- causes and interrupt -----------------------------------------------------------
        events = {
            BusCause.A_SHORT: load_a.err_short, BusCause.A_LONG: load_a.err_long,
            BusCause.A_RANGE: load_a.err_range | load_a.err_arm,
            BusCause.A_KEEP: load_a.err_keep,
            BusCause.B_SHORT: b_err["short"], BusCause.B_LONG: b_err["long"],
            BusCause.B_RANGE: b_err["range"] | b_err["arm"], BusCause.B_KEEP: b_err["keep"],
            BusCause.ZVC: zvc_error,
            BusCause.AXI_HOLE: axil.err_hole, BusCause.AXI_RO: axil.err_ro,
            BusCause.AXI_STRB: axil.err_strb, BusCause.AXI_VALUE: axil.err_value,
            BusCause.T_RANGE: t_range,
        }
        for bit, signal in events.items():
            m.d.comb += cause_set[bit.bit_length() - 1].eq(signal)
        w1c = Mux(written("BUS_CAUSE"), wdata, 0)
        m.d.sync += bus_cause.eq((bus_cause & ~w1c) | cause_set)

        # Job end: the cycle after a START write the engine is busy (accepted) or done
        # (rejected); an accepted job ends when done rises.
        start_write = engine.csr_we & (axil.csr_addr == gemm.Reg.CTRL) & \
            (axil.csr_wdata & gemm.Ctrl.START).any()
        job_open, done_prev = Signal(), Signal()
        job_end = Signal()
        m.d.comb += job_end.eq((job_open & engine.done & ~engine.busy)
                               | (engine.done & ~done_prev & ~job_open))
        m.d.sync += done_prev.eq(engine.done)
        with m.If(start_write):
            m.d.sync += job_open.eq(1)
        with m.Elif(job_end):
            m.d.sync += job_open.eq(0)
        error_event = (job_end & engine.cause.any()) | cause_set.any()
        w1c_irq = Mux(written("IRQ_PENDING"), wdata[:2], 0)
        m.d.sync += pending.eq((pending & ~w1c_irq) | Cat(job_end, error_event))
        irq = Signal()
        m.d.sync += irq.eq((pending & rw["IRQ_ENABLE"]).any())
        m.d.comb += self.irq.eq(irq)

        # --- register reads (same latency as the engine's) ----------------------------------
        value = Signal(32)
        with m.Switch(axil.csr_addr):
            for name, reg in rw.items():
                with m.Case(AXI_REGISTERS[name].addr):
                    m.d.comb += value.eq(reg)
            with m.Case(AXI_REGISTERS["LOAD_STATUS"].addr):
                m.d.comb += value.eq(Cat(load_a.armed, b_armed, load_a.loaded, b_loaded))
            with m.Case(AXI_REGISTERS["IRQ_PENDING"].addr):
                m.d.comb += value.eq(pending)
            with m.Case(AXI_REGISTERS["BUS_CAUSE"].addr):
                m.d.comb += value.eq(bus_cause)
            with m.Case(AXI_REGISTERS["ZVC_STATUS"].addr):
                m.d.comb += value.eq(zvc_code)
            with m.Case(AXI_REGISTERS["BUS_INFO"].addr):
                m.d.comb += value.eq(bb | int(self.zvc) << 8)
            with m.Case(AXI_REGISTERS["BUS_WORDS"].addr):
                m.d.comb += value.eq(self.a_word_bytes | self.b_word_bytes << 16)
            with m.Default():
                m.d.comb += value.eq(0)
        stages = [(Signal(32, name=f"local_rdata{i}"), Signal(name=f"local_sel{i}"))
                  for i in range(latency)]
        previous = (value, local)
        for stage_value, stage_sel in stages:
            m.d.sync += [stage_value.eq(previous[0]), stage_sel.eq(previous[1])]
            previous = (stage_value, stage_sel)
        m.d.comb += axil.csr_rdata.eq(Mux(previous[1], previous[0], engine.csr_rdata))
        return m
