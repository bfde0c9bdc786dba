"""Floating-point datapath of the core: fp16 / bf16 products, block alignment, fp32
accumulation (docs/fp.md; the golden model is :func:`golden.fp.fp_block`).

Two blocks, used per output lane ``(r, c)``:

* :class:`FPProductArray` (pipelined, no feedback): unpacks the operands, multiplies the
  significands (plain unsigned multiplies that map onto DSP blocks), computes each product's
  nominal exponent, the largest of them (``emax``) and each product's magnitude aligned to
  it in a ``24 + guard``-bit window, truncated; and the NaN / ±Inf flags of the products.
* :class:`FPBlockAdder` (combinational, the accumulator loop): adds the accumulator. When the
  accumulator's exponent is larger than ``emax`` the aligned products shift further right
  (truncating a magnitude twice is truncating it once), otherwise the accumulator shifts;
  then the exact signed sum, one normalization with round toward zero, fp32 subnormals, and
  the specials.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for, ceil_log2

from ._checks import check_count

__all__ = ["FP_FORMATS", "FPProductArray", "FPBlockAdder", "term_layout", "fp_plan",
           "check_fp"]

#: name → (exponent bits, fraction bits), as golden.fp.FP_FORMATS.
FP_FORMATS = {"fp16": (5, 10), "bf16": (8, 7)}
#: Signed width of every exponent in the datapath, and the exponent of a term that takes no
#: part (a zero): below every real one (bf16 products reach -251, fp32 -126).
EXP_WIDTH = 10
NEG_EXP = -(1 << (EXP_WIDTH - 1))
ACC_P = 24
MAX_GUARD = 8


def check_fp(dtype, guard):
    """Raise :exc:`ValueError` unless ``dtype`` is an fp format and ``guard`` in range."""
    if dtype not in FP_FORMATS:
        raise ValueError(f"dtype must be one of {', '.join(map(repr, FP_FORMATS))}, "
                         f"not {dtype!r}")
    check_count("guard", guard, minimum=0)
    if guard > MAX_GUARD:
        raise ValueError(f"guard must be at most {MAX_GUARD}, not {guard}")


def term_layout(kept_k, guard):
    """One lane's products after alignment: magnitudes, signs, ``emax`` and special flags."""
    return data.StructLayout({
        "mag": data.ArrayLayout(unsigned(ACC_P + guard), kept_k),
        "sign": unsigned(kept_k),
        "emax": signed(EXP_WIDTH),
        "nan": unsigned(1),
        "pos_inf": unsigned(1),
        "neg_inf": unsigned(1),
    })


def fp_plan(stages):
    """Register points of an :class:`FPProductArray` with ``stages`` registers: in this order
    ``"prod"`` (after the multipliers), ``"align"`` (the output), ``"opnd"`` (the operands),
    ``"emax"`` (after the exponent maximum, before the shifters); further registers delay the
    operands. Returns ``(points, extra)``."""
    order = ["prod", "align", "opnd", "emax"]
    return frozenset(order[:stages]), max(0, stages - len(order))


def _decode(m, bits, exp_bits, frac_bits, name):
    """Sign, significand (hidden bit included, 0 for Inf/NaN), biased exponent clamped to at
    least 1, and the zero / inf / nan flags of a bit pattern."""
    sign = bits[exp_bits + frac_bits]
    field = bits[frac_bits:frac_bits + exp_bits]
    frac = bits[:frac_bits]
    special = Signal(name=f"{name}_special")
    sig = Signal(frac_bits + 1, name=f"{name}_sig")
    exp = Signal(exp_bits, name=f"{name}_exp")
    m.d.comb += [
        special.eq(field.all()),
        sig.eq(Mux(special, 0, Cat(frac, field.any()))),
        exp.eq(Mux(field.any(), field, 1)),
    ]
    zero = ~special & ~field.any() & ~frac.any()
    inf = special & ~frac.any()
    nan = special & frac.any()
    return sign, sig, exp, zero, inf, nan


def _clamp_shift(m, diff, limit, name):
    """``min(diff, limit)`` for a non-negative ``diff``, in ``bits_for(limit)`` bits."""
    amount = Signal(bits_for(limit), name=name)
    m.d.comb += amount.eq(Mux(diff > limit, limit, diff))
    return amount


class FPProductArray(wiring.Component):
    """``tile_m × tile_n`` lanes of ``kept_k`` floating-point products, aligned per lane.

    For every lane ``(r, c)`` and product ``j`` (``a = i.a[r][j]``, ``b = i.b[r][j][c]``,
    ``dtype`` bit patterns): the exact product ``Ma*Mb`` (``2p`` bits, ``p`` = 11 for fp16,
    8 for bf16), its nominal exponent ``ea + eb + 1`` (no part when an operand is zero),
    ``emax`` the largest of them, and ``mag[j] = ((Ma*Mb) << (W - 2p)) >> (emax - E_j)`` with
    ``W = 24 + guard``; ``sign[j] = sa ^ sb``; ``nan`` if some product is NaN or ``Inf * 0``,
    ``pos_inf`` / ``neg_inf`` if some product is ``+Inf`` / ``-Inf``. ``emax`` is
    ``-512`` when every product is zero.

    Registers at the points of :func:`fp_plan`; the pipeline never stalls.

    Latency: ``stages`` cycles. Throughput: one set of lanes per cycle.

    Parameters
    ----------
    tile_m, tile_n, kept_k : int
        Rows, columns and products per lane.
    dtype : str
        ``"fp16"`` or ``"bf16"``.
    guard : int
        Extra alignment bits, 0 … 8.
    stages : int
        Register stages (0: combinational).

    Members
    -------
    i : ``In(stream.Signature(StructLayout({"a": ..., "b": ...}), always_ready=True))``
        ``a``: ``ArrayLayout(ArrayLayout(unsigned(16), kept_k), tile_m)``; ``b``:
        ``ArrayLayout(ArrayLayout(ArrayLayout(unsigned(16), tile_n), kept_k), tile_m)``.
    o : ``Out(stream.Signature(ArrayLayout(ArrayLayout(term_layout(kept_k, guard), tile_n),
        tile_m), always_ready=True))``

    Raises
    ------
    TypeError, ValueError
        A size is not a positive integer, ``stages`` is negative, ``dtype`` or ``guard`` is
        out of range.
    """

    def __init__(self, tile_m, tile_n, kept_k, *, dtype="fp16", guard=0, stages=0):
        check_count("tile_m", tile_m)
        check_count("tile_n", tile_n)
        check_count("kept_k", kept_k)
        check_count("stages", stages, minimum=0)
        check_fp(dtype, guard)
        self._shape = (tile_m, tile_n, kept_k)
        self._dtype = dtype
        self._guard = guard
        self._stages = stages
        in_layout = data.StructLayout({
            "a": data.ArrayLayout(data.ArrayLayout(unsigned(16), kept_k), tile_m),
            "b": data.ArrayLayout(data.ArrayLayout(
                data.ArrayLayout(unsigned(16), tile_n), kept_k), tile_m),
        })
        out_layout = data.ArrayLayout(data.ArrayLayout(term_layout(kept_k, guard), tile_n),
                                      tile_m)
        super().__init__({
            "i": In(stream.Signature(in_layout, always_ready=True)),
            "o": Out(stream.Signature(out_layout, always_ready=True)),
        })

    @property
    def latency(self):
        return self._stages

    def elaborate(self, platform):
        m = Module()
        tile_m, tile_n, kept_k = self._shape
        exp_bits, frac_bits = FP_FORMATS[self._dtype]
        p = frac_bits + 1
        window = ACC_P + self._guard
        bias = (1 << (exp_bits - 1)) - 1
        points, extra = fp_plan(self._stages)

        def reg(value, name, point):
            if point not in points:
                return value
            q = Signal(value.shape(), name=name, reset_less=True)
            m.d.sync += q.eq(value)
            return q

        operands = self.i.payload
        for index in range(extra):
            q = Signal(operands.shape(), name=f"opnd_delay{index}_q", reset_less=True)
            m.d.sync += q.eq(operands)
            operands = q
        operands = reg(operands, "opnd_q", "opnd")

        prod_layout = data.StructLayout({
            "P": unsigned(2 * p), "E": signed(EXP_WIDTH), "sign": 1, "nan": 1, "inf": 1})
        for r in range(tile_m):
            for c in range(tile_n):
                lane = f"r{r}_c{c}"
                prods = []
                for j in range(kept_k):
                    name = f"{lane}_j{j}"
                    sa, Ma, ea, za, ia, na = _decode(m, Value.cast(operands.a[r][j]), exp_bits,
                                                     frac_bits, f"{name}_a")
                    sb, Mb, eb, zb, ib, nb = _decode(m, Value.cast(operands.b[r][j][c]),
                                                     exp_bits, frac_bits, f"{name}_b")
                    prod = Signal(prod_layout, name=f"{name}_prod")
                    nan = na | nb | (ia & zb) | (za & ib)
                    m.d.comb += [
                        prod.P.eq(Ma * Mb),
                        prod.E.eq(Mux(za | zb | ia | ib | na | nb, NEG_EXP,
                                      ea + eb - (2 * bias - 1))),
                        prod.sign.eq(sa ^ sb),
                        prod.nan.eq(nan),
                        prod.inf.eq((ia | ib) & ~nan),
                    ]
                    prods.append(reg(prod, f"{name}_prod_q", "prod"))

                # emax: a tree of comparisons.
                level = [pr.E for pr in prods]
                while len(level) > 1:
                    nxt = []
                    for k in range(0, len(level), 2):
                        if k + 1 < len(level):
                            mx = Signal(signed(EXP_WIDTH), name=f"{lane}_max{len(level)}_{k}")
                            m.d.comb += mx.eq(Mux(level[k] > level[k + 1], level[k],
                                                  level[k + 1]))
                            nxt.append(mx)
                        else:
                            nxt.append(level[k])
                    level = nxt
                emax = Signal(signed(EXP_WIDTH), name=f"{lane}_emax")
                m.d.comb += emax.eq(level[0])
                shifts = []
                for j, pr in enumerate(prods):
                    diff = Signal(unsigned(EXP_WIDTH + 1), name=f"{lane}_j{j}_diff")
                    m.d.comb += diff.eq(emax - pr.E)
                    shifts.append(_clamp_shift(m, diff, window, f"{lane}_j{j}_shift"))
                flags_layout = data.StructLayout({
                    "P": data.ArrayLayout(unsigned(2 * p), kept_k),
                    "shift": data.ArrayLayout(unsigned(bits_for(window)), kept_k),
                    "sign": unsigned(kept_k), "emax": signed(EXP_WIDTH),
                    "nan": 1, "inf": unsigned(kept_k)})
                pre = Signal(flags_layout, name=f"{lane}_pre")
                m.d.comb += [
                    pre.emax.eq(emax),
                    pre.sign.eq(Cat(pr.sign for pr in prods)),
                    pre.inf.eq(Cat(pr.inf for pr in prods)),
                    pre.nan.eq(Cat(pr.nan for pr in prods).any()),
                ]
                m.d.comb += [pre.P[j].eq(pr.P) for j, pr in enumerate(prods)]
                m.d.comb += [pre.shift[j].eq(s) for j, s in enumerate(shifts)]
                pre = reg(pre, f"{lane}_pre_q", "emax")

                out = Signal(term_layout(kept_k, self._guard), name=f"{lane}_terms")
                for j in range(kept_k):
                    field = Signal(window, name=f"{lane}_j{j}_field")
                    m.d.comb += [
                        field.eq(pre.P[j] << (window - 2 * p)),
                        out.mag[j].eq(field >> pre.shift[j]),
                    ]
                m.d.comb += [
                    out.sign.eq(pre.sign),
                    out.emax.eq(pre.emax),
                    out.nan.eq(pre.nan),
                    out.pos_inf.eq((pre.inf & ~pre.sign).any()),
                    out.neg_inf.eq((pre.inf & pre.sign).any()),
                ]
                out = reg(out, f"{lane}_terms_q", "align")
                m.d.comb += self.o.payload[r][c].eq(out)

        valid = self.i.valid
        for index in range(self._stages):
            valid_q = Signal(name=f"valid{index}_q")
            m.d.sync += valid_q.eq(valid)
            valid = valid_q
        m.d.comb += self.o.valid.eq(valid)
        return m


class FPBlockAdder(wiring.Component):
    """One lane's block: the aligned products of :class:`FPProductArray` plus the accumulator
    (``+0`` when ``first``), normalized once to fp32 with round toward zero (docs/fp.md).

    Combinational: latency 0. It is the accumulator loop of the fp core (its output is the
    accumulator register's input), so its depth sets the core's Fmax.

    Parameters
    ----------
    kept_k : int
        Products per block.
    guard : int
        Extra alignment bits, 0 … 8.

    Members
    -------
    terms : ``In(term_layout(kept_k, guard))``
    acc : ``In(32)``
        fp32 bit pattern of the accumulator.
    first : ``In(1)``
        Use ``+0`` instead of ``acc``.
    o : ``Out(32)``
        fp32 bit pattern of the result.

    Raises
    ------
    TypeError, ValueError
        ``kept_k`` is not a positive integer, ``guard`` out of range.
    """

    def __init__(self, kept_k, *, guard=0):
        check_count("kept_k", kept_k)
        check_fp("fp16", guard)
        self._kept_k = kept_k
        self._guard = guard
        super().__init__({
            "terms": In(term_layout(kept_k, guard)),
            "acc": In(32),
            "first": In(1),
            "o": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        k = self._kept_k
        window = ACC_P + self._guard
        t = self.terms

        # The accumulator.
        c = Signal(32, name="c")
        m.d.comb += c.eq(Mux(self.first, 0, self.acc))
        sc, Mc, ec_b, _, c_inf, c_nan = _decode(m, c, 8, 23, "acc")
        Ec = Signal(signed(EXP_WIDTH), name="acc_e")
        m.d.comb += Ec.eq(Mux(Mc.any(), ec_b - 127, NEG_EXP))

        # Emax and the two alignment shifts.
        emax = Signal(signed(EXP_WIDTH), name="emax")
        m.d.comb += emax.eq(Mux(Ec > t.emax, Ec, t.emax))
        dp = Signal(unsigned(EXP_WIDTH + 1), name="prod_diff")
        dc = Signal(unsigned(EXP_WIDTH + 1), name="acc_diff")
        m.d.comb += [dp.eq(emax - t.emax), dc.eq(emax - Ec)]
        sp = _clamp_shift(m, dp, window, "prod_shift")
        scs = _clamp_shift(m, dc, window, "acc_shift")

        # Signed terms and their exact sum.
        sum_width = window + ceil_log2(k + 1) + 1
        terms = []
        for j in range(k):
            x = Signal(window, name=f"x{j}")
            m.d.comb += x.eq(t.mag[j] >> sp)
            term = Signal(signed(sum_width), name=f"term{j}")
            m.d.comb += term.eq(Mux(t.sign[j], -x, x))
            terms.append(term)
        xc_field = Signal(window, name="acc_field")
        xc = Signal(window, name="xc")
        m.d.comb += [xc_field.eq(Mc << (window - ACC_P)), xc.eq(xc_field >> scs)]
        term = Signal(signed(sum_width), name="term_acc")
        m.d.comb += term.eq(Mux(sc, -xc, xc))
        terms.append(term)
        while len(terms) > 1:
            nxt = []
            for j in range(0, len(terms), 2):
                if j + 1 < len(terms):
                    s = Signal(signed(sum_width), name=f"sum{len(terms)}_{j}")
                    m.d.comb += s.eq(terms[j] + terms[j + 1])
                    nxt.append(s)
                else:
                    nxt.append(terms[j])
            terms = nxt
        total = terms[0]

        # Normalization: |S| * 2**(emax - W + 1) to fp32, toward zero, subnormals kept.
        mag_width = sum_width - 1
        sign = Signal(name="sign")
        mag = Signal(mag_width, name="mag")
        m.d.comb += [sign.eq(total < 0), mag.eq(Mux(total < 0, -total, total))]
        length = Signal(range(mag_width + 1), name="length")
        for bit in range(mag_width):          # priority encoder: the highest set bit wins
            with m.If(mag[bit]):
                m.d.comb += length.eq(bit + 1)
        # shift = max(length - 24, -149 - lsb_exp) with lsb_exp = emax - W + 1.
        ew = EXP_WIDTH + 3
        by_length = Signal(signed(ew), name="shift_len")
        by_range = Signal(signed(ew), name="shift_sub")
        shift = Signal(signed(ew), name="shift")
        m.d.comb += [
            by_length.eq(length - ACC_P),
            by_range.eq(window - 150 - emax),
            shift.eq(Mux(by_length > by_range, by_length, by_range)),
        ]
        right = _clamp_shift(m, shift, mag_width, "right")
        left = _clamp_shift(m, -shift, ACC_P, "left")
        sig = Signal(ACC_P, name="sig")
        m.d.comb += sig.eq(Mux(shift < 0, mag << left, mag >> right))
        biased = Signal(signed(ew), name="biased")
        m.d.comb += biased.eq(shift + emax - window + 1 + 150)
        result = Signal(32, name="result")
        with m.If(sig == 0):
            m.d.comb += result.eq(0)
        with m.Elif(sig[ACC_P - 1] & (biased >= 255)):
            m.d.comb += result.eq(Cat(Const(0, 23), Const(0xFF, 8), sign))
        with m.Else():
            m.d.comb += result.eq(Cat(sig[:23], Mux(sig[ACC_P - 1], biased[:8], 0), sign))

        # Specials.
        pos_inf = t.pos_inf | (c_inf & ~sc)
        neg_inf = t.neg_inf | (c_inf & sc)
        with m.If(t.nan | c_nan | (pos_inf & neg_inf)):
            m.d.comb += self.o.eq(0x7FC00000)
        with m.Elif(pos_inf):
            m.d.comb += self.o.eq(0x7F800000)
        with m.Elif(neg_inf):
            m.d.comb += self.o.eq(0xFF800000)
        with m.Else():
            m.d.comb += self.o.eq(result)
        return m
