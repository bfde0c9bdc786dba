"""AXI4-Stream gearboxes of the AXI wrapper: operand loader (beats → buffer words) and result
streamer (D tiles → beats).

A stream is a sequence of bytes cut into beats of ``beat_bytes`` bytes, byte 0 in
``tdata[7:0]``. Every beat before the last is full (``tkeep`` all ones); the last beat, with
``tlast``, carries ``1 … beat_bytes`` bytes from byte 0 (``tkeep`` contiguous from bit 0). A
buffer word of ``word_bits`` bits is ``ceil(word_bits / 8)`` bytes, little-endian (word bit
``i`` is bit ``i % 8`` of byte ``i // 8``), and the words of a stream follow each other
without padding, so a word may straddle beats.
"""

import math

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

__all__ = ["axis_layout", "AxisLoader", "AxisResultStreamer", "BEAT_BYTES"]

#: Beat widths allowed: 32 to 256 bits.
BEAT_BYTES = (4, 8, 16, 32)

#: Bits of a descriptor's base address and word count (as the engine's A_BASE / B_BASE).
BASE_WIDTH = 16
WORDS_WIDTH = 17


def axis_layout(beat_bytes):
    """Payload of an AXI4-Stream beat: ``data`` (``8 * beat_bytes`` bits), ``keep`` (one bit
    per byte) and ``last``."""
    return data.StructLayout({"data": unsigned(8 * beat_bytes), "keep": beat_bytes, "last": 1})


def _popcount(value):
    bits = [value[i] for i in range(len(value))]
    while len(bits) > 1:
        pairs = [a + b for a, b in zip(bits[0::2], bits[1::2])]
        bits = pairs + bits[len(pairs) * 2:]
    return bits[0]


def _check_beat_bytes(beat_bytes, allowed=BEAT_BYTES):
    if not isinstance(beat_bytes, int) or isinstance(beat_bytes, bool) or \
            beat_bytes not in allowed:
        raise ValueError(f"beat_bytes must be one of {', '.join(map(str, allowed))}, "
                         f"not {beat_bytes!r}")


class AxisLoader(wiring.Component):
    """Assembles buffer words from a stream and writes them from a descriptor's base address.

    Parameters
    ----------
    word_bits : int
        Bits of one buffer word (the engine's ``a_word_layout`` or ``b_word_layout`` size).
    beat_bytes : int
        Bytes per input beat (1 or more; the wrapper uses 4 … 32, and 1, 2 or 4 behind the
        ZVC expander).
    depth : int
        Words of the buffer; a descriptor that runs past it is rejected.

    Members
    -------
    i : ``In(stream.Signature(axis_layout(beat_bytes)))``
        The stream. Not ready while no descriptor is armed (a stream that comes early waits).
    o : ``Out(stream.Signature({addr, word}))``
        Buffer writes, addresses ``base, base + 1, …``; honours ``o.ready``.
    arm : ``In(1)``; base : ``In(16)``; words : ``In(17)``
        A pulse on ``arm`` takes the descriptor ``(base, words)``.
    abort : ``In(1)``
        Drop the armed descriptor and any partial word (and stop draining).
    armed, loaded : ``Out(1)``
        A descriptor is armed (until its last word is written); the last descriptor's words
        were all written.
    err_short, err_long, err_range, err_keep, err_arm : ``Out(1)``
        One-cycle pulses: ``tlast`` before the descriptor's bytes; the stream runs past them
        (a ``tlast`` beat with more bytes, or a beat without ``tlast`` reaching the end);
        ``arm`` with 0 words or past the buffer; ``tkeep`` not all ones before the last
        beat or not contiguous from byte 0 on it; ``arm`` while armed (ignored). After a
        short, long or keep error the descriptor is dropped and, when the bad beat had no
        ``tlast``, the input is drained up to and including the next ``tlast`` beat; words
        completed before the error may have been written.

    Throughput: one beat per cycle while ``o`` is ready, when ``word_bytes`` is a multiple
    of ``beat_bytes`` (so one word per ``word_bytes / beat_bytes`` cycles); otherwise a word
    straddling beats can cost one bubble.
    """

    def __init__(self, word_bits, *, beat_bytes, depth):
        for name, value in (("word_bits", word_bits), ("beat_bytes", beat_bytes),
                            ("depth", depth)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if depth > 1 << BASE_WIDTH:
            raise ValueError(f"depth must be at most {1 << BASE_WIDTH}, not {depth}")
        self.word_bits = word_bits
        self.word_bytes = -(-word_bits // 8)
        self.beat_bytes = beat_bytes
        self.depth = depth
        super().__init__({
            "i": In(stream.Signature(axis_layout(beat_bytes))),
            "o": Out(stream.Signature(data.StructLayout({
                "addr": unsigned(max(1, ceil_log2(depth))), "word": unsigned(word_bits)}))),
            "arm": In(1), "base": In(BASE_WIDTH), "words": In(WORDS_WIDTH), "abort": In(1),
            "armed": Out(1), "loaded": Out(1),
            "err_short": Out(1), "err_long": Out(1), "err_range": Out(1), "err_keep": Out(1),
            "err_arm": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        wb, bb = self.word_bytes, self.beat_bytes
        cap = wb + bb
        buf = Signal(8 * cap)
        fill = Signal(range(cap + 1))
        armed, loaded, draining = Signal(), Signal(), Signal()
        addr = Signal.like(self.o.payload.addr)
        words_left = Signal(WORDS_WIDTH)
        left = Signal(range(((1 << WORDS_WIDTH) - 1) * wb + 1))   # stream bytes to come
        m.d.comb += [self.armed.eq(armed), self.loaded.eq(loaded)]

        # --- words out --------------------------------------------------------------------
        m.d.comb += [
            self.o.valid.eq(armed & (fill >= wb)),
            self.o.payload.word.eq(buf[:self.word_bits]),
            self.o.payload.addr.eq(addr),
        ]
        emit = Signal()
        m.d.comb += emit.eq(self.o.valid & self.o.ready)
        shifted = Signal(8 * cap)
        fill_after = Signal(range(cap + 1))
        m.d.comb += [shifted.eq(Mux(emit, buf[8 * wb:], buf)),
                     fill_after.eq(fill - Mux(emit, wb, 0))]

        # --- beats in ---------------------------------------------------------------------
        beat = self.i.payload
        receiving = armed & (left != 0)
        m.d.comb += self.i.ready.eq(draining | (receiving & (fill <= wb)))
        take = self.i.valid & self.i.ready
        nkeep = _popcount(beat.keep)
        contiguous = (((beat.keep + 1) & beat.keep) == 0) & (beat.keep != 0)
        full_keep = beat.keep == (1 << bb) - 1
        bad_keep = Mux(beat.last, ~contiguous, ~full_keep)
        nbytes = Mux(beat.last, nkeep, bb)

        # New buffer: the beat's bytes at ``fill_after`` (a multiple of gcd(wb, bb) while
        # beats are full; the short last beat ends the stream on a word boundary).
        step = math.gcd(wb, bb)
        nxt = Signal(8 * cap)
        m.d.comb += nxt.eq(shifted)
        for f in range(0, wb + 1, step):
            if f + bb <= cap:
                with m.If(fill_after == f):
                    m.d.comb += nxt[8 * f:8 * (f + bb)].eq(beat.data)

        abort = Signal()
        with m.If(emit):
            m.d.sync += [buf.eq(shifted), fill.eq(fill_after), addr.eq(addr + 1),
                         words_left.eq(words_left - 1)]
            with m.If(words_left == 1):
                m.d.sync += [armed.eq(0), loaded.eq(1)]

        with m.If(take & draining):
            with m.If(beat.last):
                m.d.sync += draining.eq(0)
        with m.Elif(take):
            with m.If(bad_keep):
                m.d.comb += [self.err_keep.eq(1), abort.eq(1)]
            with m.Elif(beat.last & (nbytes < left)):
                m.d.comb += [self.err_short.eq(1), abort.eq(1)]
            with m.Elif(beat.last & (nbytes > left)):
                m.d.comb += [self.err_long.eq(1), abort.eq(1)]
            with m.Elif(~beat.last & (left <= bb)):
                m.d.comb += [self.err_long.eq(1), abort.eq(1)]
            with m.Else():
                m.d.sync += [buf.eq(nxt), fill.eq(fill_after + nbytes), left.eq(left - nbytes)]
            with m.If(abort & ~beat.last):
                m.d.sync += draining.eq(1)

        with m.If(abort | self.abort):
            m.d.sync += [armed.eq(0), fill.eq(0), left.eq(0)]
        with m.If(self.abort):
            m.d.sync += draining.eq(0)

        # --- descriptor -------------------------------------------------------------------
        with m.If(self.arm):
            with m.If(armed):
                m.d.comb += self.err_arm.eq(1)
            with m.Elif((self.words == 0) | (self.base + self.words > self.depth)):
                m.d.comb += self.err_range.eq(1)
            with m.Else():
                m.d.sync += [armed.eq(1), loaded.eq(0), addr.eq(self.base),
                             words_left.eq(self.words), left.eq(self.words * wb), fill.eq(0)]
        return m


class AxisResultStreamer(wiring.Component):
    """Cuts D tiles into beats: each tile's ``tile_bytes`` bytes follow each other without
    padding; ``tlast`` on the job's last beat, which carries the rest (``tkeep`` from byte
    0) when the job's bytes are not a whole number of beats.

    Parameters
    ----------
    tile_bytes : int
        Bytes of one tile (``tile_m * tile_n * 4`` for int32 results).
    beat_bytes : int

    Members
    -------
    i : ``In(stream.Signature({data, last}))``
        Tiles, ``last`` on the job's last one.
    o : ``Out(stream.Signature(axis_layout(beat_bytes)))``

    Throughput: one beat per cycle while ``o`` is ready (a tile per
    ``tile_bytes / beat_bytes`` cycles when that divides).
    """

    def __init__(self, tile_bytes, *, beat_bytes):
        _check_beat_bytes(beat_bytes)
        if not isinstance(tile_bytes, int) or tile_bytes < 1:
            raise ValueError(f"tile_bytes must be a positive integer, not {tile_bytes!r}")
        self.tile_bytes = tile_bytes
        self.beat_bytes = beat_bytes
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "data": unsigned(8 * tile_bytes), "last": 1}))),
            "o": Out(stream.Signature(axis_layout(beat_bytes))),
        })

    def elaborate(self, platform):
        m = Module()
        tb, bb = self.tile_bytes, self.beat_bytes
        cap = tb + bb
        buf = Signal(8 * cap)
        fill = Signal(range(cap + 1))
        last_in = Signal()                  # the job's last tile is in the buffer

        full = fill >= bb
        m.d.comb += [
            self.o.valid.eq(full | (last_in & (fill != 0))),
            self.o.payload.data.eq(buf[:8 * bb]),
            self.o.payload.last.eq(last_in & (fill <= bb)),
        ]
        with m.If(full):
            m.d.comb += self.o.payload.keep.eq((1 << bb) - 1)
        with m.Else():
            with m.Switch(fill):
                for n in range(1, bb):
                    with m.Case(n):
                        m.d.comb += self.o.payload.keep.eq((1 << n) - 1)
                with m.Default():
                    m.d.comb += self.o.payload.keep.eq(0)
        emit = self.o.valid & self.o.ready
        shifted = Signal(8 * cap)
        fill_after = Signal(range(cap + 1))
        m.d.comb += [shifted.eq(Mux(emit, buf[8 * bb:], buf)),
                     fill_after.eq(Mux(emit, Mux(full, fill - bb, 0), fill))]

        m.d.comb += self.i.ready.eq(~last_in & (fill <= bb))
        take = self.i.valid & self.i.ready
        step = math.gcd(tb, bb)
        nxt = Signal(8 * cap)
        m.d.comb += nxt.eq(shifted)
        for f in range(0, bb + 1, step):
            if f + tb <= cap:
                with m.If(fill_after == f):
                    m.d.comb += nxt[8 * f:8 * (f + tb)].eq(self.i.payload.data)
        m.d.sync += [buf.eq(nxt), fill.eq(fill_after + Mux(take, tb, 0))]
        with m.If(take & self.i.payload.last):
            m.d.sync += last_in.eq(1)
        with m.If(emit & self.o.payload.last):
            m.d.sync += last_in.eq(0)
        return m
