"""The sparse MMA core: decoder, operand selectors, dot-product array, accumulators."""

from amaranth.hdl import Assert, Cat, Module, Mux, ResetSignal, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ._checks import check_count
from .config import RESULT_STAGE_PIPELINE, CoreConfig
from .decoder import MetadataDecoder
from .dot import DotProductArray
from .fanout import RegisterCopies
from .fp_core import fp_datapath
from .result_fifo import ResultFIFO
from .selector import OperandSelector

__all__ = ["SparseMMA", "a_layout", "b_layout", "d_layout"]


def a_layout(config):
    """Payload layout of the A stream: ``values``, ``meta`` (sparse core only), flags."""
    fields = {"values": data.ArrayLayout(
        data.ArrayLayout(signed(config.a_width), config.kept_k), config.tile_m)}
    if config.sparse:
        fields["meta"] = data.ArrayLayout(unsigned(config.meta_width), config.tile_m)
    fields["first"] = unsigned(1)
    fields["last"] = unsigned(1)
    return data.StructLayout(fields)


def b_layout(config):
    """Payload layout of the B stream: ``b_rows × tile_n`` elements, row-major."""
    return data.ArrayLayout(data.ArrayLayout(signed(config.b_width), config.tile_n),
                            config.b_rows)


def d_layout(config):
    """Payload layout of the D stream: the ``tile_m × tile_n`` tile and its error flag."""
    return data.StructLayout({
        "data": data.ArrayLayout(data.ArrayLayout(signed(config.acc_width), config.tile_n),
                                 config.tile_m),
        "error": unsigned(1),
    })


class SparseMMA(wiring.Component):
    """N:M structured-sparse (or dense baseline) tile multiply-accumulate core.

    Each accepted operation multiplies a compressed ``tile_m × tile_k`` A block by a
    ``tile_k × tile_n`` B block and adds the product into the accumulators; ``first`` clears
    them beforehand, ``last`` emits them on ``d`` (architecture.md §4). Invalid metadata
    groups contribute nothing, set ``d.payload.error`` of the result they belong to and set
    the sticky ``error`` output.

    Pipeline (``p = config.pipeline`` register stages before the accumulators)::

        a, b ─► [in] ─► decode+select ─► [sel] ─► multiply ─► [prod] ─► adder tree ─► [sum]
             ─► accumulate ─► output FIFO ─► d

    Stage ``in`` always exists; ``prod`` from ``p = 2``, ``sel`` from ``p = 3``, ``sum`` from
    ``p = 4``; ``p = 5`` adds ``opnd``, a copy of the operands per multiplier right in front
    of it (on an FPGA the route to a distant DSP block gets its own cycle); ``p = 6`` adds
    ``prod_route`` (a second product register), ``p = 7`` stage ``result`` (the FIFO is
    written from the accumulator registers; it takes one of the dot-product array's stages),
    ``p = 8`` ``opnd_route``, then registers between adder-tree levels (middle first),
    ``prod_route2`` and registers after the tree (``docs/hw.md``, "Pipeline and latency").
    With ``dsp="ecp5"`` the sparse core decodes and selects per (row, column) from register
    copies (:meth:`_split_selectors`). The dense baseline has no decoder and no selectors,
    but the same stages (its ``sel`` stage is a plain register), so a sparse core and its
    dense baseline have the same latency.

    ``a.ready`` and ``b.ready`` are one signal, high only while both inputs are valid, the
    core is out of reset and, for an operation with ``last``, its result has room (it
    depends combinationally on ``a.valid``, ``b.valid`` and ``a.payload.last``).

    The datapath registers never stall: they load every cycle and a valid bit travels with
    them. Back-pressure is handled by credits: the output FIFO holds ``p + 2`` results (plus
    ``fifo_extra``) and an operation with ``last`` is only accepted while fewer than that
    many results are in flight or queued, so the FIFO can never overflow and ``d.ready``
    reaches no register enable (no wide combinational fan-out from ``d.ready``). Operations
    without ``last`` produce no result and are accepted even while ``d`` is stalled.
    ``p + 2`` is the smallest depth that keeps II = 1 with ``d.ready`` held high.

    Latency: ``p + 1`` cycles. An operation accepted in cycle ``t`` (the cycle in which
    ``a.valid & a.ready & b.valid & b.ready``) is offered on ``d`` (``d.valid`` high) in cycle
    ``t + p + 1`` at the earliest; with ``d.ready`` held high, ``N`` back-to-back operations
    that all carry ``last`` and start in cycle 0 complete (last ``d`` transfer) by the end
    of cycle ``N + p``, i.e. in ``N + latency`` cycles.

    Throughput: one operation per cycle (II = 1) while ``a`` and ``b`` are valid and ``d`` is
    ready.

    Reset (synchronous) empties the pipeline and the FIFO, clears the accumulators, the
    per-result error and the sticky ``error``; results in flight are dropped. While reset is
    asserted ``a.ready``, ``b.ready`` and ``d.valid`` are low.

    The sticky ``error`` rises on the edge where an operation with an invalid group reaches
    the accumulators: from cycle ``t + p + 1`` for an operation accepted in cycle ``t``.

    Parameters
    ----------
    config : CoreConfig
        Tile shape, widths, N:M pattern, pipeline depth, sparse or dense.
    fifo_extra : int
        Keyword-only, default 0: results the output FIFO holds beyond ``p + 2``. A caller
        that tracks the credits itself and issues operations some cycles before the core
        sees them (the GEMM engine, ``hw/gemm.py``) needs that many more for II = 1.
    registered_valid : bool
        Keyword-only, default ``False``: ``d.valid`` from a flip-flop
        (``ResultFIFO(registered_rdy=True)``), the same value in every cycle; the GEMM
        engine's core uses it.
    checks : bool
        Keyword-only, default ``False``. ``True`` adds Amaranth ``Assert`` statements on the
        core's invariants (the result credits neither overflow nor underflow), which the
        Amaranth simulator and formal tools check; the emitted Verilog of ``rtl/`` is built
        without them.

    Members
    -------
    a : ``In(stream.Signature(a_layout(config)))``
        Kept A values (``tile_m × kept_k``), metadata (``tile_m`` fields of ``meta_width``
        bits; sparse core only), ``first`` and ``last``.
    b : ``In(stream.Signature(b_layout(config)))``
        The B tile, ``b_rows × tile_n``.
    d : ``Out(stream.Signature(d_layout(config)))``
        Result tiles (``tile_m × tile_n`` of ``acc_width`` bits) and their error flag.
    error : ``Out(1)``
        Sticky: an operation with invalid metadata reached the accumulators since reset.

    Raises
    ------
    TypeError
        If ``config`` is not a :class:`CoreConfig`.
    """

    def __init__(self, config, *, fifo_extra=0, registered_valid=False, checks=False,
                 _fault=None):
        if not isinstance(config, CoreConfig):
            raise TypeError(f"config must be a CoreConfig, not {config!r}")
        check_count("fifo_extra", fifo_extra, minimum=0)
        self._fifo_extra = fifo_extra
        self._registered_valid = bool(registered_valid)
        if _fault not in (None, "reset_write_copies"):    # test-only (tests/test_formal.py)
            raise ValueError(f"_fault must be None or 'reset_write_copies', not {_fault!r}")
        self._config = config
        self._checks = bool(checks)
        self._fault = _fault
        super().__init__({
            "a": In(stream.Signature(a_layout(config))),
            "b": In(stream.Signature(b_layout(config))),
            "d": Out(stream.Signature(d_layout(config))),
            "error": Out(1),
        })

    @property
    def config(self):
        return self._config

    @property
    def latency(self):
        """Cycles from accepting an operation to offering its result on ``d``: ``p + 1``."""
        return self._config.latency

    @property
    def fifo_depth(self):
        """Results the output FIFO holds: ``p + 2`` (enough for II = 1 with ``d.ready`` high)
        plus ``fifo_extra``."""
        return self._config.pipeline + 2 + self._fifo_extra

    @property
    def registered_result(self):
        """Whether stage ``result`` exists (``p >= 7``): the output FIFO is written from the
        accumulator registers, a cycle after they load, instead of from their inputs."""
        return self._config.pipeline >= RESULT_STAGE_PIPELINE

    @property
    def dot_stages(self):
        """Register stages inside the dot-product array."""
        p = self._config.pipeline
        return (p - 1 if p < 3 else p - 2) - self.registered_result

    def _split_selectors(self, m, gathered):
        """Decode and select with one decoder and one single-column selector per output
        (row, column), fed by register copies: used with ``dsp="ecp5"``. Returns the
        operation's invalid flags, one per row.

        With one selector per row, each metadata register drives the multiplexers of all
        ``tile_n`` columns and each B register those of all ``tile_m`` rows, whose gathered
        operands sit next to DSP blocks spread over the die. Here the stage ``in`` of the
        metadata is ``tile_n`` copies per row and that of B ``tile_m`` copies, each near the
        multiplexers it drives (:class:`~hw.fanout.RegisterCopies`; same latency as the
        plain ``in`` registers, which then go unused).
        """
        cfg = self._config
        b_copies = RegisterCopies(b_layout(cfg).size, cfg.tile_m, dsp=cfg.dsp)
        m.submodules.in_b_copies = b_copies
        m.d.comb += b_copies.i.eq(self.b.payload)
        column_layout = data.ArrayLayout(data.ArrayLayout(signed(cfg.b_width), 1), cfg.b_rows)
        invalid = []
        for r in range(cfg.tile_m):
            meta_copies = RegisterCopies(cfg.meta_width, cfg.tile_n, dsp=cfg.dsp)
            m.submodules[f"in_meta{r}_copies"] = meta_copies
            m.d.comb += meta_copies.i.eq(self.a.payload.meta[r])
            b_tile = data.View(b_layout(cfg), b_copies.o[r])
            for c in range(cfg.tile_n):
                decoder = MetadataDecoder(cfg.groups, n=cfg.n, m=cfg.m)
                selector = OperandSelector(1, groups=cfg.groups, n=cfg.n, m=cfg.m,
                                           b_width=cfg.b_width)
                m.submodules[f"decoder{r}_c{c}"] = decoder
                m.submodules[f"selector{r}_c{c}"] = selector
                column = Signal(column_layout, name=f"in_b{r}_c{c}")
                m.d.comb += [column[k][0].eq(b_tile[k][c]) for k in range(cfg.b_rows)]
                m.d.comb += [
                    decoder.meta.eq(meta_copies.o[c]),
                    selector.b.eq(column),
                    selector.idx.eq(decoder.idx),
                    selector.invalid.eq(decoder.invalid),
                ]
                m.d.comb += [gathered[r][j][c].eq(selector.o[j][0])
                             for j in range(cfg.kept_k)]
                if c == 0:
                    invalid.append(decoder.invalid.any())
        return Cat(*invalid)

    def _accumulate(self, m, dot, ctrl, ctrl_error, acc, acc_next):
        """Accumulators for ``p < 7``: ``first`` selects 0 in front of the adders and the FIFO
        is written with their sums. Returns ``(w_data, w_en, bank_width)`` for the FIFO."""
        cfg = self._config
        for r in range(cfg.tile_m):
            for c in range(cfg.tile_n):
                m.d.comb += acc_next.data[r][c].eq(
                    Mux(ctrl.first, 0, acc.data[r][c]) + dot.o.payload[r][c])
        m.d.comb += acc_next.error.eq((acc.error & ~ctrl.first) | ctrl_error)
        with m.If(dot.o.valid):
            m.d.sync += acc.eq(acc_next)
            with m.If(ctrl_error):
                m.d.sync += self.error.eq(1)
        return acc_next, dot.o.valid & ctrl.last, None

    def _accumulate_registered(self, m, dot, ctrls, valids, ctrl_error, acc, acc_next):
        """Accumulators with stage ``result`` (``p >= 7``). Returns ``(w_data, w_en,
        bank_width)`` for the FIFO."""
        cfg = self._config
        ctrl = ctrls[-1]
        # `running` holds the sum so far, already cleared for the next operation when
        # that one has `first`, so `first` needs no multiplexer in front of the carry
        # chains: it arrives a cycle early as a synchronous clear. The clear and the load
        # enable of each accumulator come from a register copy of its own (RegisterCopies),
        # placed near it rather than one register fanning out to all of them. Reset
        # clears `running` through the same path, a cycle later; no operation reaches
        # the accumulators that early. `acc` takes every sum unmasked, on every edge: the
        # FIFO reads it only in the cycle after an operation with `last`.
        assert dot.latency >= 3     # ctrls[-3] and valids[-3] exist
        lanes = [(r, c) for r in range(cfg.tile_m) for c in range(cfg.tile_n)]
        control = RegisterCopies(2, len(lanes), dsp=cfg.dsp)
        m.submodules.acc_control = control
        # Copy k of bit 0 is valid of the operation at the adders (load it), bit 1 is
        # valid & first of the one after it (clear before it arrives), or reset.
        m.d.comb += control.i.eq(Cat(
            valids[-2],
            (valids[-3] & ctrls[-3].first) | ResetSignal()))
        running = Signal(d_layout(cfg), name="acc_running", reset_less=True)
        for lane, (r, c) in enumerate(lanes):
            load, clear = control.o[lane][0], control.o[lane][1]
            m.d.comb += acc_next.data[r][c].eq(running.data[r][c] + dot.o.payload[r][c])
            with m.If(clear):
                m.d.sync += running.data[r][c].eq(0)
            with m.Elif(load):
                m.d.sync += running.data[r][c].eq(acc_next.data[r][c])
        m.d.comb += acc_next.error.eq(running.error | ctrl_error)
        with m.If(control.o[0][1]):
            m.d.sync += running.error.eq(0)
        with m.Elif(control.o[0][0]):
            m.d.sync += running.error.eq(acc_next.error)
        m.d.sync += acc.eq(acc_next)
        # Stage "result": the FIFO is written from `acc` a cycle after it loads, so the
        # accumulate carry chain ends in flip-flops rather than in the LUT RAM's write
        # port. It takes one of the dot-product array's stages: the latency stays p + 1.
        # The sticky error is delayed with it, so its timing is the same for every p.
        # The FIFO has a bank per accumulator (and one for the error flag), each with
        # a write enable copy of its own.
        # The copies have no reset of their own (TRELLIS_FF with LSR tied low): their input
        # is gated with reset instead, so a reset of one cycle also clears them and no
        # result that was in flight is written after it (the credits restart from zero).
        write = RegisterCopies(1, len(lanes) + 1, dsp=cfg.dsp)
        m.submodules.result_write = write
        error_q = Signal(name="result_error_q")
        m.d.comb += write.i.eq(dot.o.valid & ctrl.last & ~ResetSignal())
        if self._fault == "reset_write_copies":     # the bug c35385d fixed, for the proofs
            m.d.comb += write.i.eq(dot.o.valid & ctrl.last)
        m.d.sync += error_q.eq(dot.o.valid & ctrl_error)
        with m.If(error_q):
            m.d.sync += self.error.eq(1)
        return acc, Cat(*write.o), cfg.acc_width

    def _int_datapath(self, m, sel_values, sel_b, sel_ctrl, sel_valid, ctrl_layout, split):
        """Integer multipliers, adder trees and accumulators. Returns ``(w_data, w_en,
        bank_width)`` for the FIFO."""
        cfg = self._config
        # Multipliers and adder trees.
        dot = m.submodules.dot = DotProductArray(
            cfg.tile_m, cfg.tile_n, cfg.kept_k, a_width=cfg.a_width, b_width=cfg.b_width,
            stages=self.dot_stages, dsp=cfg.dsp)
        m.d.comb += [
            dot.i.payload.a.eq(sel_values),
            dot.i.payload.b.eq(sel_b),
            dot.i.valid.eq(sel_valid),
        ]
        ctrl, valid = sel_ctrl, sel_valid
        ctrls, valids = [ctrl], [valid]
        for index in range(dot.latency):
            ctrl_q = Signal(ctrl_layout, name=f"dot_ctrl{index}_q", reset_less=True)
            m.d.sync += ctrl_q.eq(ctrl)
            ctrl = ctrl_q
            ctrls.append(ctrl)
            if self.registered_result:
                # The same valid bits as the dot-product array's, for the accumulators.
                valid_q = Signal(name=f"dot_valid{index}_q")
                m.d.sync += valid_q.eq(valid)
                valid = valid_q
                valids.append(valid)

        # Accumulators, the sticky error and what the output FIFO is written with.
        acc = Signal(d_layout(cfg), name="acc", reset_less=self.registered_result)
        acc_next = Signal(d_layout(cfg), name="acc_next")
        ctrl_error = ctrl.error.any() if split else ctrl.error
        if not self.registered_result:
            w_data, w_en, bank_width = self._accumulate(m, dot, ctrl, ctrl_error, acc, acc_next)
        else:
            w_data, w_en, bank_width = self._accumulate_registered(
                m, dot, ctrls, valids, ctrl_error, acc, acc_next)
        return w_data, w_en, bank_width

    def elaborate(self, platform):
        cfg = self._config
        m = Module()
        # With split selectors the invalid flags travel one per row and are combined after
        # the `sel` register (the rows' decoders are spread as far as their multipliers).
        split = cfg.sparse and cfg.dsp != "generic"
        error_bits = cfg.tile_m if split else 1
        ctrl_layout = data.StructLayout({"first": 1, "last": 1, "error": error_bits})

        # Credits: results accepted (operations with last) and not yet taken from d.
        pending = Signal(range(self.fifo_depth + 1))
        room = Signal()
        accept = Signal()
        m.d.comb += [
            room.eq(pending != self.fifo_depth),
            accept.eq(self.a.valid & self.b.valid & (room | ~self.a.payload.last) &
                      ~ResetSignal()),
            self.a.ready.eq(accept),
            self.b.ready.eq(accept),
        ]

        # Stage "in": operands registered as they arrive.
        in_a = Signal(self.a.payload.shape(), name="in_a", reset_less=True)
        in_b = Signal(self.b.payload.shape(), name="in_b", reset_less=True)
        in_valid = Signal(name="in_valid")
        m.d.sync += [
            in_a.eq(self.a.payload),
            in_b.eq(self.b.payload),
            in_valid.eq(accept),
        ]

        # Decode and select, one decoder and one selector per A row.
        row_b = data.ArrayLayout(data.ArrayLayout(signed(cfg.b_width), cfg.tile_n), cfg.kept_k)
        gathered = Signal(data.ArrayLayout(row_b, cfg.tile_m), name="gathered")
        op_error = Signal(error_bits, name="op_error")
        if split:
            m.d.comb += op_error.eq(self._split_selectors(m, gathered))
        elif cfg.sparse:
            invalid = []
            for r in range(cfg.tile_m):
                decoder = MetadataDecoder(cfg.groups, n=cfg.n, m=cfg.m)
                selector = OperandSelector(cfg.tile_n, groups=cfg.groups, n=cfg.n, m=cfg.m,
                                           b_width=cfg.b_width)
                m.submodules[f"decoder{r}"] = decoder
                m.submodules[f"selector{r}"] = selector
                m.d.comb += [
                    decoder.meta.eq(in_a.meta[r]),
                    selector.b.eq(in_b),
                    selector.idx.eq(decoder.idx),
                    selector.invalid.eq(decoder.invalid),
                    gathered[r].eq(selector.o),
                ]
                invalid.append(decoder.invalid.any())
            flag = invalid[0]
            for term in invalid[1:]:
                flag = flag | term
            m.d.comb += op_error.eq(flag)
        else:
            for r in range(cfg.tile_m):
                m.d.comb += gathered[r].eq(in_b)

        sel_values = in_a.values
        sel_b = gathered
        sel_ctrl = Signal(ctrl_layout, name="sel_ctrl")
        m.d.comb += [
            sel_ctrl.first.eq(in_a.first),
            sel_ctrl.last.eq(in_a.last),
            sel_ctrl.error.eq(op_error),
        ]
        sel_valid = in_valid

        # Stage "sel": register after selection (p >= 3).
        if cfg.pipeline >= 3:
            values_q = Signal.like(in_a.values, name="sel_values_q", reset_less=True)
            b_q = Signal.like(gathered, name="sel_b_q", reset_less=True)
            ctrl_q = Signal(ctrl_layout, name="sel_ctrl_q", reset_less=True)
            valid_q = Signal(name="sel_valid_q")
            m.d.sync += [
                values_q.eq(sel_values),
                b_q.eq(sel_b),
                ctrl_q.eq(sel_ctrl),
                valid_q.eq(sel_valid),
            ]
            sel_values, sel_b, sel_ctrl, sel_valid = values_q, b_q, ctrl_q, valid_q

        if cfg.dtype != "int":
            w_data, w_en, bank_width = fp_datapath(m, self, sel_values, sel_b, sel_ctrl,
                                                   sel_valid)
        else:
            w_data, w_en, bank_width = self._int_datapath(m, sel_values, sel_b, sel_ctrl,
                                                          sel_valid, ctrl_layout, split)

        # Output FIFO, sized by the credits so that it never overflows.
        fifo = m.submodules.fifo = ResultFIFO(d_layout(cfg).size, self.fifo_depth,
                                              bank_width=bank_width,
                                              registered_rdy=self._registered_valid,
                                              dsp=cfg.dsp)
        m.d.comb += [
            fifo.w_data.eq(w_data),
            fifo.w_en.eq(w_en),
            self.d.payload.eq(fifo.r_data),
            self.d.valid.eq(fifo.r_rdy & ~ResetSignal()),
            fifo.r_en.eq(self.d.ready),
        ]
        taken = self.d.valid & self.d.ready
        given = accept & self.a.payload.last
        with m.If(given & ~taken):
            m.d.sync += pending.eq(pending + 1)
        with m.If(taken & ~given):
            m.d.sync += pending.eq(pending - 1)
        if self._checks:
            m.d.sync += [
                Assert(~(given & ~taken) | (pending < self.fifo_depth),
                       "result credits overflow: a result accepted without room"),
                Assert(~(taken & ~given) | (pending > 0),
                       "result credits underflow: a result delivered that was not accepted"),
            ]
        return m
