"""Dot-product array: tile_m × tile_n dot products of length kept_k, pipelined."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ._checks import check_count, check_width
from .fanout import RegisterCopies
from .multiplier import RegisteredMultiplier, check_dsp

__all__ = ["DotProductArray"]


def register_plan(stages, levels):
    """Where a :class:`DotProductArray` with ``stages`` registers places them.

    Returns ``(points, extra)``: ``points`` is the set of register points taken from, in
    order, ``"prod"`` (after the multipliers), ``"sum"`` (after the adder tree), ``"opnd"``
    (the operands, right in front of the multipliers), ``"prod_route"`` (a second register
    behind ``prod``), ``"opnd_route"`` (a second register in front of ``opnd``),
    ``("tree", l)`` (after adder level ``l``, middle levels first) and ``"prod_route2"`` (a
    third register behind the products); ``extra`` is the number of further registers after
    the tree output once all points are taken.

    The ``route`` registers hold no logic: on an FPGA whose multipliers sit in DSP blocks
    spread over the die, the route to and from a block is long enough to need a cycle of its
    own (measured on ECP5: docs/synth.md), which is why the first two come before the
    adder-tree registers.
    """
    internal = sorted(range(1, levels), key=lambda level: (abs(2 * level - levels), level))
    order = (["prod", "sum", "opnd", "prod_route", "opnd_route"]
             + [("tree", level) for level in internal] + ["prod_route2"])
    return frozenset(order[:stages]), max(0, stages - len(order))


class DotProductArray(wiring.Component):
    """``tile_m × tile_n`` dot products of length ``kept_k``: multipliers and adder trees.

    For every row ``r`` and column ``c``:
    ``o[r][c] = Σ_j i.a[r][j] * i.b[r][j][c]``, computed exactly (no wrap) in
    ``a_width + b_width + ceil_log2(kept_k)`` bits. Each product is a plain signed
    ``a_width × b_width`` multiply, so it maps onto one DSP multiplier.

    The pipeline never stalls (both streams are ``always_ready``): data registers load every
    cycle and ``o.valid`` is ``i.valid`` delayed by ``stages`` cycles. The registers go, in
    this order of preference: after the multipliers, after the adder tree, on the operands
    in front of the multipliers (one copy per multiplier), a second register behind the
    multipliers and a second one in front of them (routes to and from DSP blocks, no
    logic), between adder tree levels (middle first), a third one behind the multipliers,
    then extra registers after the tree (:func:`register_plan`). Once both the operand and the
    product registers exist (``stages >= 3``) each multiplier with its two registers is a
    :class:`~hw.multiplier.RegisteredMultiplier` (``dsp`` selects how it is built).

    Latency: ``stages`` cycles. Throughput: one set of ``tile_m × tile_n`` dot products per
    cycle.

    Parameters
    ----------
    tile_m, tile_n, kept_k : int
        Rows, columns and dot-product length.
    a_width, b_width : int
        Signed widths of the A and B operands.
    stages : int
        Register stages (0 makes the array combinational).
    dsp : str
        ``"generic"`` or ``"ecp5"`` (:class:`~hw.multiplier.RegisteredMultiplier`); ``"ecp5"``
        needs ``stages >= 3`` and widths of at most 18.

    Members
    -------
    i : ``In(stream.Signature(StructLayout({"a": ..., "b": ...}), always_ready=True))``
        ``a``: ``ArrayLayout(ArrayLayout(signed(a_width), kept_k), tile_m)``;
        ``b``: ``ArrayLayout(ArrayLayout(ArrayLayout(signed(b_width), tile_n), kept_k),
        tile_m)``, the B operands of each row (``b[r][j]`` is the row gathered for
        ``a[r][j]``).
    o : ``Out(stream.Signature(ArrayLayout(ArrayLayout(signed(sum_width), tile_n), tile_m),
        always_ready=True))``
        The dot products.

    Raises
    ------
    TypeError, ValueError
        If a size is not a positive integer, a width is below 2, ``stages`` is negative, or
        ``dsp`` is unknown or ``"ecp5"`` with ``stages < 3`` or a width above 18.
    """

    def __init__(self, tile_m, tile_n, kept_k, *, a_width=8, b_width=8, stages=1,
                 dsp="generic"):
        check_count("tile_m", tile_m)
        check_count("tile_n", tile_n)
        check_count("kept_k", kept_k)
        check_width("a_width", a_width)
        check_width("b_width", b_width)
        check_count("stages", stages, minimum=0)
        check_dsp(dsp, a_width=a_width, b_width=b_width)
        points, _ = register_plan(stages, ceil_log2(kept_k))
        if dsp != "generic" and "opnd" not in points:
            raise ValueError(f"stages must be at least 3 with dsp={dsp!r} (the operand and "
                             f"product registers are the multiplier's), not {stages}")
        self._a_width = a_width
        self._b_width = b_width
        self._dsp = dsp
        self._tile_m = tile_m
        self._tile_n = tile_n
        self._kept_k = kept_k
        self._stages = stages
        self._levels = ceil_log2(kept_k)
        self._sum_width = a_width + b_width + self._levels
        in_layout = data.StructLayout({
            "a": data.ArrayLayout(data.ArrayLayout(signed(a_width), kept_k), tile_m),
            "b": data.ArrayLayout(data.ArrayLayout(
                data.ArrayLayout(signed(b_width), tile_n), kept_k), tile_m),
        })
        out_layout = data.ArrayLayout(
            data.ArrayLayout(signed(self._sum_width), tile_n), tile_m)
        super().__init__({
            "i": In(stream.Signature(in_layout, always_ready=True)),
            "o": Out(stream.Signature(out_layout, always_ready=True)),
        })

    @property
    def latency(self):
        """Cycles from ``i`` to ``o``."""
        return self._stages

    @property
    def sum_width(self):
        """Width of one dot product: ``a_width + b_width + ceil_log2(kept_k)``."""
        return self._sum_width

    def elaborate(self, platform):
        m = Module()
        points, extra = register_plan(self._stages, self._levels)

        def stage(values, name):
            regs = []
            for index, value in enumerate(values):
                reg = Signal(value.shape(), name=f"{name}{index}", reset_less=True)
                m.d.sync += reg.eq(value)
                regs.append(reg)
            return regs

        # One flat list of rows × columns lanes, each a list of terms to sum.
        lanes = [(r, c) for r in range(self._tile_m) for c in range(self._tile_n)]

        # Operand registers: a copy of both operands per multiplier, so that on an FPGA each
        # can sit next to its DSP block and the long route to it gets a cycle of its own.
        # "opnd" only comes with "prod" (register_plan's order), and then the two registers
        # and the multiply are one RegisteredMultiplier (on an ECP5 the DSP block's own).
        operands = [(self.i.payload.a[r][j], self.i.payload.b[r][j][c])
                    for r, c in lanes for j in range(self._kept_k)]
        registered = "opnd" in points
        assert not registered or "prod" in points
        if "opnd_route" in points:
            # A operand a[r][j] feeds the tile_n multipliers of row r: one kept copy each.
            a_copies = {}
            for r in range(self._tile_m):
                for j in range(self._kept_k):
                    copies = RegisterCopies(self._a_width, self._tile_n, dsp=self._dsp)
                    m.submodules[f"r{r}_j{j}_opnd_route_a"] = copies
                    m.d.comb += copies.i.eq(self.i.payload.a[r][j])
                    a_copies[r, j] = copies.o
            a_route = [a_copies[r, j][c].as_signed()
                       for r, c in lanes for j in range(self._kept_k)]
            b_route = stage([b for _, b in operands], "opnd_route_b")
            operands = list(zip(a_route, b_route))

        # Multipliers.
        terms = []
        for index, (a, b) in enumerate(operands):
            r, c = lanes[index // self._kept_k]
            j = index % self._kept_k
            prod = Signal(signed(self._sum_width - self._levels), name=f"r{r}_c{c}_j{j}_prod")
            if registered:
                mul = RegisteredMultiplier(self._a_width, self._b_width, dsp=self._dsp)
                m.submodules[f"r{r}_c{c}_j{j}_mul"] = mul
                m.d.comb += [mul.a.eq(a), mul.b.eq(b), prod.eq(mul.p)]
            else:
                m.d.comb += prod.eq(a * b)
            terms.append(prod)
        width = self._kept_k
        if "prod" in points and not registered:
            terms = stage(terms, "prod_q")
        if "prod_route" in points:
            terms = stage(terms, "prod_route_q")
        if "prod_route2" in points:
            terms = stage(terms, "prod_route2_q")

        # Adder trees, one level at a time over all lanes.
        for level in range(1, self._levels + 1):
            next_terms = []
            next_width = (width + 1) // 2
            for lane in range(len(lanes)):
                row = terms[lane * width:(lane + 1) * width]
                for pair in range(0, width, 2):
                    next_terms.append(row[pair] + row[pair + 1] if pair + 1 < width
                                      else row[pair])
            terms, width = next_terms, next_width
            if ("tree", level) in points:
                terms = stage(terms, f"tree{level}_q")
        if "sum" in points:
            terms = stage(terms, "sum_q")
        for index in range(extra):
            terms = stage(terms, f"delay{index}_q")

        for lane, (r, c) in enumerate(lanes):
            m.d.comb += self.o.payload[r][c].eq(terms[lane])

        valid = self.i.valid
        for index in range(self._stages):
            valid_q = Signal(name=f"valid{index}_q")
            m.d.sync += valid_q.eq(valid)
            valid = valid_q
        m.d.comb += self.o.valid.eq(valid)
        return m
