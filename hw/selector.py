"""Operand selector: gathers, for each kept A element of one row, its B row."""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ._checks import check_count, check_pattern, check_width

__all__ = ["OperandSelector"]


class OperandSelector(wiring.Component):
    """For one A row, picks the B row of every kept element out of the ``m`` rows of its group.

    Kept element ``j = g*n + s`` of the row multiplies B row ``g*m + idx[g][s]``; the selector
    outputs that row (``tile_n`` elements) as gathered row ``j``. Rows of an invalid group are
    forced to zero, so the group contributes nothing (architecture.md §4). Each output row is
    an ``m``:1 multiplexer per bit.

    Combinational: latency 0, throughput one row per cycle.

    Parameters
    ----------
    tile_n : int
        Elements per B row (output columns).
    groups : int
        Groups of ``m`` rows in the B tile (``tile_k // m``).
    n, m : int
        The N:M pattern.
    b_width : int
        Signed width of a B element.

    Members
    -------
    b : ``In(ArrayLayout(ArrayLayout(signed(b_width), tile_n), groups * m))``
        The B tile, row ``k`` at ``b[k]``.
    idx : ``In(ArrayLayout(ArrayLayout(unsigned(ceil_log2(m)), n), groups))``
        The row's decoded indices (``MetadataDecoder.idx``).
    invalid : ``In(groups)``
        Invalid-group flags (``MetadataDecoder.invalid``).
    o : ``Out(ArrayLayout(ArrayLayout(signed(b_width), tile_n), groups * n))``
        Gathered B rows, one per kept element.

    Raises
    ------
    TypeError, ValueError
        If a size is not a positive integer, ``b_width < 2`` or ``n:m`` is not supported.
    """

    def __init__(self, tile_n, *, groups, n=2, m=4, b_width=8):
        check_count("tile_n", tile_n)
        check_count("groups", groups)
        check_pattern(n, m)
        check_width("b_width", b_width)
        self._tile_n = tile_n
        self._groups = groups
        self._n = n
        self._m = m
        self._row = data.ArrayLayout(signed(b_width), tile_n)
        super().__init__({
            "b": In(data.ArrayLayout(self._row, groups * m)),
            "idx": In(data.ArrayLayout(data.ArrayLayout(unsigned(ceil_log2(m)), n), groups)),
            "invalid": In(groups),
            "o": Out(data.ArrayLayout(self._row, groups * n)),
        })

    def elaborate(self, platform):
        m = Module()

        by_group = data.View(data.ArrayLayout(data.ArrayLayout(self._row, self._m),
                                              self._groups), self.b)
        for g in range(self._groups):
            for s in range(self._n):
                j = g * self._n + s
                picked = Signal(self._row, name=f"g{g}_s{s}_row")
                # Indexing an array view with a signal is the m:1 multiplexer.
                m.d.comb += picked.eq(by_group[g][self.idx[g][s]])
                m.d.comb += self.o[j].eq(Mux(self.invalid[g], 0, picked.as_value()))
        return m
