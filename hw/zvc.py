"""Zero-value compression (ZVC) engines of Rhu et al., HPCA 2018 (cDMA).

The compressed stream is the golden model's byte string (``golden/zvc.py``,
``docs/zvc.md``) cut into little-endian words of ``word_width`` bits: a 64-bit header
(magic, word width, block size W, length N), then per block of W words a W-bit mask
(W/word_width words, least-significant first) and the block's non-zero words.

On the compressed port those words travel ``beat_words`` per beat (default 2), packed
like a DMA writes memory: every beat is full except possibly the stream's final one,
whose ``count`` says how many words it carries, with ``last``. Word 0 of a beat comes
before word 1 in the stream. The raw port moves one word per beat.

Throughput, at any density (the compressed stream of a block is at most
``W/word_width + W`` words, which two words per beat carry in fewer than W cycles):

* :class:`ZvcCompressor` takes one raw word per cycle with no bubble: the N words of a
  job are accepted on the N cycles right after its ``length`` transfer;
* :class:`ZvcExpander` gives one raw word per cycle with no bubble: the N words of a
  stream leave on N consecutive cycles, the first one ``H + M + 3`` cycles after the
  stream's first beat is taken (H = 64/word_width header words, M = W/word_width mask
  words).

Internally the values path moves up to :data:`VALUES_PER_CYCLE` (2) words per cycle;
header and mask words move one per cycle.
"""

from amaranth.hdl import Cat, Module, Mux, ResetInserter, Signal, unsigned
from amaranth.lib import data, enum, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = [
    "MAGIC", "HEADER_BITS", "VALUES_PER_CYCLE", "HeaderLayout", "ZvcStatus",
    "word_layout", "beat_layout", "ZvcPacker", "ZvcUnpacker",
    "ZvcCompressor", "ZvcExpander", "ZvcCompressorTop", "ZvcExpanderTop",
]

MAGIC = 0x5A
HEADER_BITS = 64
LENGTH_BITS = 32
#: Words per cycle on the internal values path (data FIFO entries hold up to this many).
#: Two are enough for one raw word per cycle at 100 % density: a block's values then take
#: W/2 cycles, its mask W/word_width <= W/8 more.
VALUES_PER_CYCLE = 2
MAX_BEAT_WORDS = 16

#: The 64-bit stream header; on the wire it is ``64 / word_width`` words, LSB first.
HeaderLayout = data.StructLayout({
    "magic": 8,
    "word_width": 8,
    "block_words": 16,
    "length": LENGTH_BITS,
})


class ZvcStatus(enum.Enum, shape=3):
    """Error status of :class:`ZvcExpander`; one code per golden ``ZvcError`` subclass."""
    OK = 0
    HEADER = 1          # bad magic, or a block size other than the expander's
    WORD_WIDTH = 2      # a word width other than the expander's
    MASK = 3            # final block's mask sets bits beyond the length
    TRUNCATED = 4       # ``last`` before the stream is complete, or a malformed beat count
    TRAILING = 5        # no ``last`` on the stream's final word, or a final count too big


def word_layout(word_width):
    """Payload of a framed raw stream: one word and the end-of-stream flag."""
    return data.StructLayout({"data": unsigned(word_width), "last": 1})


def beat_layout(word_width, beat_words):
    """Payload of a compressed-port beat: ``beat_words`` words (word 0 first in the
    stream), ``count`` of them valid, and the end-of-stream flag.

    A well-formed stream has ``count == beat_words`` on every beat without ``last`` and
    ``1 <= count <= beat_words`` on its final beat.
    """
    return data.StructLayout({
        "data": data.ArrayLayout(unsigned(word_width), beat_words),
        "count": range(beat_words + 1),
        "last": 1,
    })


def _check_params(word_width, block_words, beat_words=2):
    if word_width not in (8, 16, 32):
        raise ValueError(f"word_width must be one of 8, 16, 32, not {word_width!r}")
    if (not isinstance(block_words, int) or isinstance(block_words, bool)
            or block_words < word_width or block_words % word_width):
        raise ValueError(f"block_words must be a multiple of word_width={word_width}, "
                         f"not {block_words!r}")
    if block_words > 1024:
        raise ValueError(f"block_words must be at most 1024, not {block_words}")
    if (not isinstance(beat_words, int) or isinstance(beat_words, bool)
            or not VALUES_PER_CYCLE <= beat_words <= MAX_BEAT_WORDS):
        raise ValueError(f"beat_words must be an integer from {VALUES_PER_CYCLE} to "
                         f"{MAX_BEAT_WORDS}, not {beat_words!r}")


def _popcount(value):
    bits = [value[i] for i in range(len(value))]
    while len(bits) > 1:
        pairs = [a + b for a, b in zip(bits[0::2], bits[1::2])]
        bits = pairs + bits[len(pairs) * 2:]
    return bits[0]


def _mask_entry_layout(block_words):
    """A finished block on its way from the parsing side to the emitting side."""
    return data.StructLayout({
        "mask": block_words,
        "count": range(block_words + 1),    # compressor: data entries; expander: length
        "final": 1,
    })


def _values_entry_layout(word_width):
    """A data FIFO entry: one or two non-zero words of a block, in stream order."""
    return data.StructLayout({
        "words": data.ArrayLayout(unsigned(word_width), VALUES_PER_CYCLE),
        "pair": 1,                          # 1: both words, 0: only ``words[0]``
    })


class ZvcPacker(wiring.Component):
    """Gearbox from groups of up to ``in_words`` words to full beats of ``beat_words``.

    Parameters
    ----------
    word_width : int
        Bits per word.
    in_words : int
        Most words per input group; at most ``beat_words``.
    beat_words : int
        Words per output beat.

    Members
    -------
    i : ``In(stream.Signature(beat_layout(word_width, in_words)))``
        Groups of ``1 <= count <= in_words`` words, ``last`` on a stream's final group.
    o : ``Out(stream.Signature(beat_layout(word_width, beat_words)))``
        The same words, ``beat_words`` per beat; a stream's final beat carries the rest
        (``count`` of them, at least 1) and ``last``.

    ``i.ready`` is registered (it depends on neither ``o.ready`` nor ``i.valid``). With
    ``o.ready`` held high, ``i`` is never stalled within a stream: a full beat leaves
    every cycle, at least as many words as come in. A new stream's words wait until the
    previous stream's final beat has left (one cycle between back-to-back streams).
    """

    def __init__(self, word_width, *, in_words, beat_words):
        if not 1 <= in_words <= beat_words:
            raise ValueError(f"in_words must be from 1 to beat_words={beat_words}, "
                             f"not {in_words!r}")
        self.word_width = word_width
        self.in_words = in_words
        self.beat_words = beat_words
        super().__init__({
            "i": In(stream.Signature(beat_layout(word_width, in_words))),
            "o": Out(stream.Signature(beat_layout(word_width, beat_words))),
        })

    def elaborate(self, platform):
        m = Module()
        bw, kw = self.beat_words, self.in_words
        # Room for a group whenever fewer than bw + kw words wait: then a full beat and a
        # group arriving together never overflow, and the input never waits on the output
        # while the output keeps up.
        capacity = bw + 2 * kw - 1
        slots = Signal(data.ArrayLayout(unsigned(self.word_width), capacity))
        fill = Signal(range(capacity + 1))
        ending = Signal()                   # the stream's final word is in the buffer

        full_beat = fill >= bw
        m.d.comb += [
            self.o.valid.eq(full_beat | (ending & (fill != 0))),
            self.o.payload.count.eq(Mux(full_beat, bw, fill)),
            self.o.payload.last.eq(ending & (fill <= bw)),
            self.i.ready.eq(~ending & (fill < bw + kw)),
        ]
        for k in range(bw):
            m.d.comb += self.o.payload.data[k].eq(slots[k])

        sent = self.o.valid & self.o.ready
        taken = self.i.valid & self.i.ready
        kept = Signal(range(capacity + 1))
        # A partial beat is a stream's final one and empties the buffer, so the words left
        # after a beat are always ``fill - count``, shifted down by bw.
        m.d.comb += kept.eq(fill - Mux(sent, self.o.payload.count, 0))
        m.d.sync += fill.eq(kept + Mux(taken, self.i.payload.count, 0))
        for s in range(capacity):
            if s + bw < capacity:
                with m.If(sent):
                    m.d.sync += slots[s].eq(slots[s + bw])
            for k in range(kw):
                with m.If(taken & (k < self.i.payload.count) & (kept + k == s)):
                    m.d.sync += slots[s].eq(self.i.payload.data[k])
        with m.If(sent & self.o.payload.last):
            m.d.sync += ending.eq(0)
        with m.If(taken & self.i.payload.last):
            m.d.sync += ending.eq(1)
        return m


def _unpacked_layout(word_width):
    """One buffered word of :class:`ZvcUnpacker`; ``bad`` marks a malformed beat instead."""
    return data.StructLayout({"data": unsigned(word_width), "last": 1, "bad": 1})


class ZvcUnpacker(wiring.Component):
    """Gearbox from beats of ``beat_words`` words to a window of ``out_words`` words.

    Parameters
    ----------
    word_width : int
        Bits per word.
    beat_words : int
        Words per input beat.
    out_words : int
        Words the consumer may take per cycle; at most ``beat_words``.

    Members
    -------
    i : ``In(stream.Signature(beat_layout(word_width, beat_words)))``
        Beats; a beat without ``last`` carries ``beat_words`` words, one with ``last``
        ``count`` (1 to ``beat_words``).
    window : ``Out(data.ArrayLayout({data, last, bad}, out_words))``
        The next words, oldest first: ``last`` on a stream's final word. A malformed beat
        (a count other than ``beat_words`` without ``last``; 0 or more than
        ``beat_words`` with ``last``) becomes one entry with ``bad`` set and the beat's
        ``last``, in place of its words.
    available : ``Out(range(out_words + 1))``
        How many entries of ``window`` are valid.
    take : ``In(range(out_words + 1))``
        Entries the consumer takes this cycle; at most ``available``.

    ``i.ready`` is registered (it depends on neither ``take`` nor ``i.valid``). With
    ``i.valid`` held high, ``available`` never drops to 0 once a beat came in.
    """

    def __init__(self, word_width, *, beat_words, out_words):
        if not 1 <= out_words <= beat_words:
            raise ValueError(f"out_words must be from 1 to beat_words={beat_words}, "
                             f"not {out_words!r}")
        self.word_width = word_width
        self.beat_words = beat_words
        self.out_words = out_words
        entry = _unpacked_layout(word_width)
        super().__init__({
            "i": In(stream.Signature(beat_layout(word_width, beat_words))),
            "window": Out(data.ArrayLayout(entry, out_words)),
            "available": Out(range(out_words + 1)),
            "take": In(range(out_words + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        bw, kw = self.beat_words, self.out_words
        entry = _unpacked_layout(self.word_width)
        capacity = 2 * bw
        slots = Signal(data.ArrayLayout(entry, capacity))
        fill = Signal(range(capacity + 1))

        m.d.comb += [
            self.i.ready.eq(fill <= capacity - bw),
            self.available.eq(Mux(fill >= kw, kw, fill)),
        ]
        for k in range(kw):
            m.d.comb += self.window[k].eq(slots[k])

        beat = self.i.payload
        # ``count`` above bw is only representable when bw + 1 is not a power of two.
        fits = (beat.count <= bw) if bw + 1 < 1 << bw.bit_length() else 1
        well_formed = Mux(beat.last, (beat.count != 0) & fits, beat.count == bw)
        taken = self.i.valid & self.i.ready
        arriving = Signal(range(bw + 1))
        m.d.comb += arriving.eq(Mux(well_formed, beat.count, 1))
        kept = Signal(range(capacity + 1))
        m.d.comb += kept.eq(fill - self.take)
        m.d.sync += fill.eq(kept + Mux(taken, arriving, 0))
        for s in range(capacity):
            for t in range(1, kw + 1):
                if s + t < capacity:
                    with m.If(self.take == t):
                        m.d.sync += slots[s].eq(slots[s + t])
            for k in range(bw):
                new = Signal(entry, name=f"new_{s}_{k}")
                m.d.comb += [
                    new.data.eq(beat.data[k]),
                    new.last.eq(beat.last & (beat.count == k + 1)),
                    new.bad.eq(0),
                ]
                if k == 0:
                    with m.If(~well_formed):
                        m.d.comb += [new.data.eq(0), new.last.eq(beat.last), new.bad.eq(1)]
                with m.If(taken & (k < arriving) & (kept + k == s)):
                    m.d.sync += slots[s].eq(new)
        return m


class ZvcCompressor(wiring.Component):
    """Zero-value compressor: raw words in, golden-exact ZVC stream out.

    Parameters
    ----------
    word_width : int
        Bits per word: 8, 16 or 32.
    block_words : int
        W, words per block: a multiple of ``word_width``, at most 1024.
    beat_words : int
        Words per beat on ``o``: 2 (default) to 16.

    Members
    -------
    length : ``In(stream.Signature(unsigned(32)))``
        One transfer per job: N, the number of words that follow on ``i`` (like a DMA
        descriptor; the header needs N before the first block). Accepted the cycle after
        the previous job's last word was taken, even while that job still drains.
    i : ``In(stream.Signature(unsigned(word_width)))``
        The N raw words of the job.
    o : ``Out(stream.Signature(beat_layout(word_width, beat_words)))``
        Header, masks and non-zero words, ``beat_words`` per beat; the job's final beat
        has ``last`` and ``count`` words (1 to ``beat_words``), every other beat is full.

    Throughput, at any density: with ``i.valid`` and ``o.ready`` held high, the N words
    of a job are taken on the N cycles right after the ``length`` transfer, one per
    cycle (descriptor and words: N + 1 cycles). The emitter starts a block the cycle after
    its last word arrived (or when done with the block before) and spends
    ``M + ceil(nnz/2)`` cycles on it (M = W/word_width mask words one per cycle, then the
    values two per cycle); the job's final beat leaves the cycle after the emitter's last
    group, or one later when the output gearbox holds a full beat before it.

    Raises
    ------
    ValueError
        On a bad parameter; the message names it.
    """

    def __init__(self, word_width=8, *, block_words=32, beat_words=2):
        _check_params(word_width, block_words, beat_words)
        self.word_width = word_width
        self.block_words = block_words
        self.beat_words = beat_words
        super().__init__({
            "length": In(stream.Signature(unsigned(LENGTH_BITS))),
            "i": In(stream.Signature(unsigned(word_width))),
            "o": Out(stream.Signature(beat_layout(word_width, beat_words))),
        })

    def elaborate(self, platform):
        m = Module()
        ww, nw = self.word_width, self.block_words
        mask_words = nw // ww
        header_words = HEADER_BITS // ww
        entry_layout = _mask_entry_layout(nw)
        values_layout = _values_entry_layout(ww)

        # A block holds at most W/2 entries of two values: two blocks' worth.
        m.submodules.data_fifo = data_fifo = fifo.SyncFIFO(
            width=values_layout.size, depth=nw)
        m.submodules.mask_fifo = mask_fifo = fifo.SyncFIFO(
            width=entry_layout.size, depth=2)
        m.submodules.packer = packer = ZvcPacker(
            ww, in_words=VALUES_PER_CYCLE, beat_words=self.beat_words)
        wiring.connect(m, packer.o, wiring.flipped(self.o))

        # --- input side: build each block's mask, queue its non-zero words in pairs ------

        busy = Signal()
        remaining = Signal(LENGTH_BITS)
        pos = Signal(range(nw))
        mask = Signal(nw)
        entries = Signal(range(nw + 1))     # data FIFO entries of the block so far
        held = Signal(ww)                   # a non-zero word waiting for its pair
        holding = Signal()

        block_end = (pos == nw - 1) | (remaining == 1)
        nonzero = self.i.payload != 0
        m.d.comb += self.i.ready.eq(busy & data_fifo.w_rdy & (~block_end | mask_fifo.w_rdy))
        accept = self.i.valid & self.i.ready

        # Push a pair when the second value arrives; at a block's end push what is left.
        push = (nonzero & holding) | (block_end & (nonzero | holding))
        values = Signal(values_layout)
        entry = Signal(entry_layout)
        m.d.comb += [
            values.words[0].eq(Mux(holding, held, self.i.payload)),
            values.words[1].eq(self.i.payload),
            values.pair.eq(nonzero & holding),
            data_fifo.w_data.eq(values),
            data_fifo.w_en.eq(accept & push),
            entry.mask.eq(mask | (nonzero << pos)),
            entry.count.eq(entries + push),
            entry.final.eq(remaining == 1),
            mask_fifo.w_data.eq(entry),
            mask_fifo.w_en.eq(accept & block_end),
        ]
        with m.If(accept):
            m.d.sync += remaining.eq(remaining - 1)
            with m.If(block_end):
                m.d.sync += [pos.eq(0), mask.eq(0), entries.eq(0), holding.eq(0)]
            with m.Else():
                m.d.sync += [pos.eq(pos + 1), mask.eq(entry.mask), entries.eq(entry.count)]
                with m.If(nonzero):
                    m.d.sync += [held.eq(self.i.payload), holding.eq(~holding)]
            with m.If(remaining == 1):
                m.d.sync += busy.eq(0)

        # --- output side: header, then per block its mask words and value pairs -----------

        length = Signal(LENGTH_BITS)
        header = Signal(HeaderLayout)
        header_view = data.View(data.ArrayLayout(ww, header_words), header.as_value())
        head = data.View(entry_layout, mask_fifo.r_data)
        mask_view = data.View(data.ArrayLayout(ww, mask_words), head.mask)
        queued = data.View(values_layout, data_fifo.r_data)
        index = Signal(range(max(header_words, mask_words)))
        left = Signal(range(nw + 1))        # data entries of the block still to send
        group = packer.i.payload
        done = packer.i.valid & packer.i.ready
        m.d.comb += [
            header.magic.eq(MAGIC),
            header.word_width.eq(ww),
            header.block_words.eq(nw),
            header.length.eq(length),
        ]

        # The input side takes the next job's length as soon as it has taken the last word
        # of the job before, while the emitter may still be draining that job: the length
        # then waits in ``queued_length`` for the emitter, and the new job's blocks queue
        # behind the old job's in the FIFOs.
        length_queued = Signal()
        queued_length = Signal(LENGTH_BITS)
        m.d.comb += self.length.ready.eq(~busy & ~length_queued)
        length_taken = self.length.valid & self.length.ready
        with m.If(length_taken):
            m.d.sync += [remaining.eq(self.length.payload),
                         busy.eq(self.length.payload != 0)]

        with m.FSM(name="emit") as emit_fsm:
            with m.State("IDLE"):
                with m.If(length_queued):
                    m.d.sync += [length.eq(queued_length), index.eq(0), length_queued.eq(0)]
                    m.next = "HEADER"
                with m.Elif(length_taken):
                    m.d.sync += [length.eq(self.length.payload), index.eq(0)]
                    m.next = "HEADER"

            with m.State("HEADER"):
                m.d.comb += [
                    packer.i.valid.eq(1),
                    group.data[0].eq(header_view[index]),
                    group.count.eq(1),
                    group.last.eq((length == 0) & (index == header_words - 1)),
                ]
                with m.If(done):
                    m.d.sync += index.eq(index + 1)
                    with m.If(index == header_words - 1):
                        m.d.sync += index.eq(0)
                        m.next = "MASK"
                        with m.If(length == 0):
                            m.next = "IDLE"

            with m.State("MASK"):
                mask_done = index == mask_words - 1
                m.d.comb += [
                    packer.i.valid.eq(mask_fifo.r_rdy),
                    group.data[0].eq(mask_view[index]),
                    group.count.eq(1),
                    group.last.eq(head.final & (head.count == 0) & mask_done),
                ]
                with m.If(done):
                    m.d.sync += index.eq(index + 1)
                    with m.If(mask_done):
                        m.d.sync += [index.eq(0), left.eq(head.count)]
                        with m.If(head.count == 0):
                            m.d.comb += mask_fifo.r_en.eq(1)
                            with m.If(head.final):
                                m.next = "IDLE"
                        with m.Else():
                            m.next = "DATA"

            with m.State("DATA"):
                m.d.comb += [
                    packer.i.valid.eq(data_fifo.r_rdy),
                    group.data.eq(queued.words),
                    group.count.eq(1 + queued.pair),
                    group.last.eq(head.final & (left == 1)),
                ]
                with m.If(done):
                    m.d.comb += data_fifo.r_en.eq(1)
                    m.d.sync += left.eq(left - 1)
                    with m.If(left == 1):
                        m.d.comb += mask_fifo.r_en.eq(1)
                        m.next = "IDLE"
                        with m.If(~head.final):
                            m.next = "MASK"

        with m.If(length_taken & ~emit_fsm.ongoing("IDLE")):
            m.d.sync += [length_queued.eq(1), queued_length.eq(self.length.payload)]
        return m


class ZvcExpander(wiring.Component):
    """Zero-value expander: golden-format ZVC stream in, raw words out.

    Parameters
    ----------
    word_width : int
        Bits per word: 8, 16 or 32.
    block_words : int
        W, words per block: a multiple of ``word_width``, at most 1024. A stream whose
        header names another W is rejected (:attr:`ZvcStatus.HEADER`).
    beat_words : int
        Words per beat on ``i``: 2 (default) to 16.

    Members
    -------
    i : ``In(stream.Signature(beat_layout(word_width, beat_words)))``
        Compressed streams, back to back, in the compressor's beat format: full beats,
        the final one with ``last`` and ``count`` words (1 to ``beat_words``).
    o : ``Out(stream.Signature(word_layout(word_width)))``
        The N words of each stream, ``last`` on the final one (a stream with N = 0
        produces no beat).
    error : ``Out(ZvcStatus)``
        The first error since reset or ``clear``; sticky until then.
    clear : ``In(1)``
        Return ``error`` to ``OK`` (only the status: a stream in progress, or the drain
        after an error, carries on). An error in the same cycle is lost to the clear.

    On an error the expander abandons the stream: the words of it still queued are
    dropped (a beat already on ``o`` completes, no ``last`` follows), the input is
    drained up to and including its ``last`` beat, and the next stream is decoded
    normally. It never stalls its input indefinitely on bad data. A beat whose count is
    impossible (not ``beat_words`` without ``last``; 0 or above ``beat_words`` with it)
    is :attr:`ZvcStatus.TRUNCATED`: the stream's words are not whole.

    Throughput, at any density: with ``i.valid`` and ``o.ready`` held high, the N words
    of a stream leave on N consecutive cycles, the first one ``H + M + 3`` cycles after
    the stream's first beat is taken (H = 64/word_width header words, M = W/word_width
    mask words), so the stream takes ``N + H + M + 3`` cycles from its first beat to its
    last word, both counted. A new stream's header is taken once the previous stream's
    words have all been emitted.

    Raises
    ------
    ValueError
        On a bad parameter; the message names it.
    """

    def __init__(self, word_width=8, *, block_words=32, beat_words=2):
        _check_params(word_width, block_words, beat_words)
        self.word_width = word_width
        self.block_words = block_words
        self.beat_words = beat_words
        super().__init__({
            "i": In(stream.Signature(beat_layout(word_width, beat_words))),
            "o": Out(stream.Signature(word_layout(word_width))),
            "error": Out(ZvcStatus),
            "clear": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        ww, nw = self.word_width, self.block_words
        mask_words = nw // ww
        header_words = HEADER_BITS // ww
        entry_layout = _mask_entry_layout(nw)
        values_layout = _values_entry_layout(ww)

        flush = Signal()
        m.submodules.data_fifo = data_fifo = ResetInserter(flush)(
            fifo.SyncFIFO(width=values_layout.size, depth=nw))
        # Buffered: a block's mask reaches the emitter one cycle after its first values
        # are queued, so the emitter never waits for value 0 of a block.
        m.submodules.mask_fifo = mask_fifo = ResetInserter(flush)(
            fifo.SyncFIFOBuffered(width=entry_layout.size, depth=3))
        m.submodules.unpacker = unpacker = ZvcUnpacker(
            ww, beat_words=self.beat_words, out_words=VALUES_PER_CYCLE)
        wiring.connect(m, wiring.flipped(self.i), unpacker.i)

        # --- parser: header, masks and values into the two queues -------------------------

        first, second = unpacker.window[0], unpacker.window[1]
        word = first.data
        is_last = first.last                # of the word (or bad beat) being taken
        has_word = (unpacker.available != 0) & ~first.bad
        bad_beat = (unpacker.available != 0) & first.bad
        index = Signal(range(max(header_words, mask_words)))
        header_bits = Signal(HEADER_BITS)
        mask_bits = Signal(nw)
        remaining = Signal(LENGTH_BITS)
        left = Signal(range(nw + 1))        # values of the block still to queue
        final = Signal()

        # Both shift in at the top: after all their words, word 0 sits at the bottom.
        header = data.View(HeaderLayout, Cat(header_bits[ww:], word))
        mask = Cat(mask_bits[ww:], word) if mask_words > 1 else word
        block_len = Signal(range(nw + 1))
        last_block = remaining <= nw
        m.d.comb += block_len.eq(nw)
        with m.If(last_block):
            m.d.comb += block_len.eq(remaining)
        beyond = (mask >> block_len) != 0       # a flag at or past the block's end
        nnz = _popcount(mask)

        entry = Signal(entry_layout)
        m.d.comb += [
            entry.mask.eq(mask),
            entry.count.eq(block_len),
            entry.final.eq(last_block),
            mask_fifo.w_data.eq(entry),
        ]

        error = Signal(ZvcStatus)
        m.d.comb += self.error.eq(error)
        with m.If(self.clear):
            m.d.sync += error.eq(ZvcStatus.OK)

        # Streams overlap: a stream's header is parsed while the blocks of earlier streams
        # are still queued or being emitted. ``older`` counts the mask-FIFO entries (the one
        # being emitted included) of earlier streams; an error flushes the FIFOs only once
        # they are gone (``pending_flush``), and until then the emitter does not start a
        # block of the bad stream, so an error never eats words of an earlier stream.
        older = Signal(range(4))
        new_stream = Signal()               # the first header word of a stream is taken
        failing = Signal()                  # an error is detected in this cycle
        pending_flush = Signal()
        m.d.comb += flush.eq((failing | pending_flush) & (older == 0))
        m.d.sync += pending_flush.eq((failing | pending_flush) & ~flush)

        def fail(code, ends_stream):
            with m.If(error == ZvcStatus.OK):
                m.d.sync += error.eq(code)
            m.d.comb += failing.eq(1)
            m.next = "DRAIN"
            with m.If(ends_stream):
                m.next = "HEADER"
            m.d.sync += index.eq(0)

        with m.FSM(name="parse"):
            with m.State("HEADER"):
                # A new stream starts once an error's flush is done (``older``).
                may_start = ~pending_flush
                accept = has_word & may_start
                m.d.comb += new_stream.eq(accept & (index == 0))
                with m.If(bad_beat & may_start):
                    m.d.comb += unpacker.take.eq(1)
                    fail(ZvcStatus.TRUNCATED, is_last)
                with m.If(accept):
                    m.d.comb += unpacker.take.eq(1)
                    m.d.sync += [header_bits.eq(header.as_value()), index.eq(index + 1)]
                    with m.If(index == header_words - 1):
                        m.d.sync += [index.eq(0), remaining.eq(header.length)]
                        with m.If(header.magic != MAGIC):
                            fail(ZvcStatus.HEADER, is_last)
                        with m.Elif(header.word_width != ww):
                            fail(ZvcStatus.WORD_WIDTH, is_last)
                        with m.Elif(header.block_words != nw):
                            fail(ZvcStatus.HEADER, is_last)
                        with m.Elif(header.length == 0):
                            with m.If(~is_last):
                                fail(ZvcStatus.TRAILING, is_last)
                        with m.Elif(is_last):
                            fail(ZvcStatus.TRUNCATED, is_last)
                        with m.Else():
                            m.next = "MASK"
                    with m.Elif(is_last):
                        fail(ZvcStatus.TRUNCATED, is_last)

            with m.State("MASK"):
                mask_done = index == mask_words - 1
                accept = has_word & (~mask_done | mask_fifo.w_rdy)
                with m.If(bad_beat):
                    m.d.comb += unpacker.take.eq(1)
                    fail(ZvcStatus.TRUNCATED, is_last)
                with m.If(accept):
                    m.d.comb += unpacker.take.eq(1)
                    m.d.sync += [mask_bits.eq(mask), index.eq(index + 1)]
                    with m.If(mask_done):
                        m.d.sync += [
                            index.eq(0),
                            remaining.eq(remaining - block_len),
                            left.eq(nnz),
                            final.eq(last_block),
                        ]
                        with m.If(beyond):
                            fail(ZvcStatus.MASK, is_last)
                        with m.Else():
                            m.d.comb += mask_fifo.w_en.eq(1)
                            with m.If(nnz != 0):
                                with m.If(is_last):
                                    fail(ZvcStatus.TRUNCATED, is_last)
                                with m.Else():
                                    m.next = "DATA"
                            with m.Elif(last_block):
                                with m.If(~is_last):
                                    fail(ZvcStatus.TRAILING, is_last)
                                with m.Else():
                                    m.next = "HEADER"
                            with m.Elif(is_last):
                                fail(ZvcStatus.TRUNCATED, is_last)
                    with m.Elif(is_last):
                        fail(ZvcStatus.TRUNCATED, is_last)

            with m.State("DATA"):
                # Two values at once when both are there, of this stream and this block.
                pair = ((unpacker.available == 2) & ~first.last & ~second.bad
                        & (left >= 2))
                last_taken = Mux(pair, second.last, first.last)
                count = Signal(range(VALUES_PER_CYCLE + 1))
                m.d.comb += count.eq(1 + pair)
                values = Signal(values_layout)
                m.d.comb += [
                    values.words[0].eq(first.data),
                    values.words[1].eq(second.data),
                    values.pair.eq(pair),
                    data_fifo.w_data.eq(values),
                ]
                with m.If(bad_beat):
                    m.d.comb += unpacker.take.eq(1)
                    fail(ZvcStatus.TRUNCATED, is_last)
                with m.If(has_word & data_fifo.w_rdy):
                    m.d.comb += [unpacker.take.eq(count), data_fifo.w_en.eq(1)]
                    m.d.sync += left.eq(left - count)
                    with m.If(left == count):
                        with m.If(final):
                            with m.If(~last_taken):
                                fail(ZvcStatus.TRAILING, last_taken)
                            with m.Else():
                                m.next = "HEADER"
                        with m.Elif(last_taken):
                            fail(ZvcStatus.TRUNCATED, last_taken)
                        with m.Else():
                            m.next = "MASK"
                    with m.Elif(last_taken):
                        fail(ZvcStatus.TRUNCATED, last_taken)

            with m.State("DRAIN"):
                with m.If(unpacker.available != 0):
                    m.d.comb += unpacker.take.eq(1)
                    with m.If(is_last):
                        m.next = "HEADER"

        # --- emitter: one word per cycle, zero or the next queued value ------------------

        head = data.View(entry_layout, mask_fifo.r_data)
        queued = data.View(values_layout, data_fifo.r_data)
        pos = Signal(range(nw))
        second_half = Signal()              # the next value is ``queued.words[1]``
        bit = head.mask.bit_select(pos, 1)
        block_done = pos == head.count - 1
        can_emit = (mask_fifo.r_rdy & (~bit | data_fifo.r_rdy)
                    & ~((failing | pending_flush) & (older == 0)))
        o_valid = Signal()
        o_payload = Signal(word_layout(ww))
        m.d.comb += [self.o.valid.eq(o_valid), self.o.payload.eq(o_payload)]

        with m.If(self.o.ready):
            m.d.sync += o_valid.eq(0)
        with m.If((~o_valid | self.o.ready) & can_emit & ~flush):
            m.d.sync += [
                o_valid.eq(1),
                o_payload.data.eq(Mux(bit, Mux(second_half, queued.words[1],
                                               queued.words[0]), 0)),
                o_payload.last.eq(head.final & block_done),
                pos.eq(pos + 1),
            ]
            with m.If(bit):
                with m.If(second_half | ~queued.pair):
                    m.d.comb += data_fifo.r_en.eq(1)
                    m.d.sync += second_half.eq(0)
                with m.Else():
                    m.d.sync += second_half.eq(1)
            with m.If(block_done):
                m.d.comb += mask_fifo.r_en.eq(1)
                m.d.sync += pos.eq(0)

        with m.If(flush):
            m.d.sync += [pos.eq(0), second_half.eq(0)]
        with m.If(new_stream):
            m.d.sync += older.eq(mask_fifo.level - mask_fifo.r_en)
        with m.Elif(mask_fifo.r_en & (older != 0)):
            m.d.sync += older.eq(older - 1)

        return m


def _flat_beat_ports(prefix, direction, word_width, beat_words):
    """Flat members of a beat stream: ``*_valid``, ``*_ready``, ``*_data`` (word k in bits
    ``k*word_width`` up), ``*_count``, ``*_last``; ``direction`` is that of the data."""
    back = Out if direction is In else In
    return {
        f"{prefix}_valid": direction(1), f"{prefix}_ready": back(1),
        f"{prefix}_data": direction(word_width * beat_words),
        f"{prefix}_count": direction(range(beat_words + 1)),
        f"{prefix}_last": direction(1),
    }


class ZvcCompressorTop(wiring.Component):
    """:class:`ZvcCompressor` with flat ports, for Verilog: ``length_*``, ``i_*``
    (``*_valid``, ``*_ready``, ``*_data``), ``o_valid``, ``o_ready``, ``o_data``
    (``beat_words`` words, word 0 in the low bits), ``o_count``, ``o_last``, plus ``clk``
    and ``rst``."""

    def __init__(self, word_width=8, *, block_words=32, beat_words=2):
        _check_params(word_width, block_words, beat_words)
        self.core = ZvcCompressor(word_width, block_words=block_words,
                                  beat_words=beat_words)
        super().__init__({
            "length_valid": In(1), "length_ready": Out(1), "length_data": In(LENGTH_BITS),
            "i_valid": In(1), "i_ready": Out(1), "i_data": In(word_width),
            **_flat_beat_ports("o", Out, word_width, beat_words),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        m.d.comb += [
            core.length.valid.eq(self.length_valid),
            core.length.payload.eq(self.length_data),
            self.length_ready.eq(core.length.ready),
            core.i.valid.eq(self.i_valid),
            core.i.payload.eq(self.i_data),
            self.i_ready.eq(core.i.ready),
            self.o_valid.eq(core.o.valid),
            self.o_data.eq(core.o.payload.data),
            self.o_count.eq(core.o.payload.count),
            self.o_last.eq(core.o.payload.last),
            core.o.ready.eq(self.o_ready),
        ]
        return m


class ZvcExpanderTop(wiring.Component):
    """:class:`ZvcExpander` with flat ports, for Verilog: ``i_valid``, ``i_ready``,
    ``i_data`` (``beat_words`` words, word 0 in the low bits), ``i_count``, ``i_last``,
    ``o_*`` (``*_valid``, ``*_ready``, ``*_data``, ``*_last``), ``error`` (a
    :class:`ZvcStatus` code), ``clk``, ``rst``."""

    def __init__(self, word_width=8, *, block_words=32, beat_words=2):
        _check_params(word_width, block_words, beat_words)
        self.core = ZvcExpander(word_width, block_words=block_words,
                                beat_words=beat_words)
        super().__init__({
            **_flat_beat_ports("i", In, word_width, beat_words),
            "o_valid": Out(1), "o_ready": In(1), "o_data": Out(word_width), "o_last": Out(1),
            "error": Out(3),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        m.d.comb += [
            core.i.valid.eq(self.i_valid),
            core.i.payload.data.eq(self.i_data),
            core.i.payload.count.eq(self.i_count),
            core.i.payload.last.eq(self.i_last),
            self.i_ready.eq(core.i.ready),
            self.o_valid.eq(core.o.valid),
            self.o_data.eq(core.o.payload.data),
            self.o_last.eq(core.o.payload.last),
            core.o.ready.eq(self.o_ready),
            self.error.eq(core.error),
        ]
        return m
