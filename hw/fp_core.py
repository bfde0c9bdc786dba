"""The floating-point back end of :class:`~hw.core.SparseMMA` (``CoreConfig.dtype`` fp16 or
bf16): products and alignment (:class:`~hw.fp_dot.FPProductArray`), then the accumulator
loop of one :class:`~hw.fp_dot.FPBlockAdder` per lane (docs/fp.md)."""

from amaranth.hdl import Signal

from .fp_dot import FPBlockAdder, FPProductArray

__all__ = ["fp_datapath", "fp_stages"]


def fp_stages(config):
    """Register stages of the :class:`~hw.fp_dot.FPProductArray` in a core with
    ``config.pipeline = p``: ``p - 1`` for ``p < 3``, else ``p - 2`` (stages ``in`` and, from
    ``p = 3``, ``sel`` are the core's), so the core's latency stays ``p + 1``."""
    p = config.pipeline
    return p - 1 if p < 3 else p - 2


def fp_datapath(m, core, sel_values, sel_b, sel_ctrl, sel_valid):
    """Build the fp products, the accumulators and the sticky error of ``core`` into ``m``
    from the selected operands. Returns ``(w_data, w_en, bank_width)`` for the result FIFO,
    as the integer accumulators do: the FIFO is written with the accumulators' next value
    when an operation with ``last`` reaches them."""
    from .core import d_layout

    cfg = core.config
    products = FPProductArray(cfg.tile_m, cfg.tile_n, cfg.kept_k, dtype=cfg.dtype,
                              guard=cfg.fp_guard, stages=fp_stages(cfg))
    m.submodules.fp_products = products
    m.d.comb += [
        products.i.payload.a.eq(sel_values),
        products.i.payload.b.eq(sel_b),
        products.i.valid.eq(sel_valid),
    ]
    ctrl = sel_ctrl
    for index in range(products.latency):
        ctrl_q = Signal(sel_ctrl.shape(), name=f"fp_ctrl{index}_q", reset_less=True)
        m.d.sync += ctrl_q.eq(ctrl)
        ctrl = ctrl_q

    acc = Signal(d_layout(cfg), name="acc")
    acc_next = Signal(d_layout(cfg), name="acc_next")
    for r in range(cfg.tile_m):
        for c in range(cfg.tile_n):
            adder = FPBlockAdder(cfg.kept_k, guard=cfg.fp_guard)
            m.submodules[f"fp_adder_r{r}_c{c}"] = adder
            m.d.comb += [
                adder.terms.eq(products.o.payload[r][c]),
                adder.acc.eq(acc.data[r][c]),
                adder.first.eq(ctrl.first),
                acc_next.data[r][c].eq(adder.o),
            ]
    m.d.comb += acc_next.error.eq((acc.error & ~ctrl.first) | ctrl.error)
    with m.If(products.o.valid):
        m.d.sync += acc.eq(acc_next)
        with m.If(ctrl.error):
            m.d.sync += core.error.eq(1)
    return acc_next, products.o.valid & ctrl.last, None
