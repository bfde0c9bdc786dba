"""Metadata decoder: one A row's index bit string to per-group select indices."""

from amaranth.hdl import Module, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ._checks import check_count, check_pattern

__all__ = ["MetadataDecoder"]


class MetadataDecoder(wiring.Component):
    """Splits one row's metadata field into select indices and flags invalid groups.

    Kept element ``j`` of the row (group ``j // n``, slot ``j % n``) has its in-group index at
    bits ``j*b … j*b + b - 1`` of ``meta``, ``b = ceil(log2 m)`` (architecture.md §2–§3). A
    group is invalid when its indices are not strictly increasing or one is ``>= m``.

    Combinational: latency 0, throughput one row per cycle.

    Parameters
    ----------
    groups : int
        Groups of ``m`` elements in the row (``tile_k // m``).
    n, m : int
        The N:M pattern (1:2, 2:4 or 4:8).

    Members
    -------
    meta : ``In(groups * n * b)``
        The row's metadata bits.
    idx : ``Out(ArrayLayout(ArrayLayout(unsigned(b), n), groups))``
        ``idx[g][s]``: index inside group ``g`` of the group's kept element ``s``.
    invalid : ``Out(groups)``
        Bit ``g`` is set when group ``g`` is invalid.

    Raises
    ------
    TypeError, ValueError
        If ``groups`` is not a positive integer or ``n:m`` is not supported.
    """

    def __init__(self, groups, *, n=2, m=4):
        check_count("groups", groups)
        check_pattern(n, m)
        self._groups = groups
        self._n = n
        self._m = m
        self._index_width = ceil_log2(m)
        idx_layout = data.ArrayLayout(data.ArrayLayout(unsigned(self._index_width), n), groups)
        super().__init__({
            "meta": In(idx_layout.size),
            "idx": Out(idx_layout),
            "invalid": Out(groups),
        })

    @property
    def groups(self):
        return self._groups

    @property
    def n(self):
        return self._n

    @property
    def m(self):
        return self._m

    @property
    def index_width(self):
        return self._index_width

    def elaborate(self, platform):
        m = Module()

        # The bit string is laid out exactly like the index array: no slicing needed.
        m.d.comb += self.idx.eq(self.meta)

        for g in range(self._groups):
            bad = []
            for s in range(self._n):
                if 2 ** self._index_width > self._m:
                    bad.append(self.idx[g][s] >= self._m)
                if s + 1 < self._n:
                    bad.append(self.idx[g][s] >= self.idx[g][s + 1])
            if bad:
                flag = bad[0]
                for term in bad[1:]:
                    flag = flag | term
                m.d.comb += self.invalid[g].eq(flag)
        return m
