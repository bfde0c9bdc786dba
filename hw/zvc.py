"""Zero-value compression (ZVC) engines of Rhu et al., HPCA 2018 (cDMA).

The compressed stream is the golden model's byte string (``golden/zvc.py``,
``docs/zvc.md``) cut into little-endian words of ``word_width`` bits, one word per beat,
with ``last`` on its final word: a 64-bit header (magic, word width, block size W,
length N), then per block of W words a W-bit mask (W/word_width words, least-significant
first) and the block's non-zero words.

Both engines move one word per cycle on each port. A block's compressed form takes
``W/word_width + nnz`` words, so each engine runs at the speed of its busier port: one
uncompressed word per cycle while ``W/word_width + nnz <= W``, and one compressed word per
cycle above that (at 100 % density the compressed stream is the longer one).
"""

from amaranth.hdl import Cat, Module, Mux, ResetInserter, Signal, unsigned
from amaranth.lib import data, enum, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = [
    "MAGIC", "HEADER_BITS", "HeaderLayout", "ZvcStatus", "word_layout",
    "ZvcCompressor", "ZvcExpander", "ZvcCompressorTop", "ZvcExpanderTop",
]

MAGIC = 0x5A
HEADER_BITS = 64
LENGTH_BITS = 32

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
    TRUNCATED = 4       # ``last`` before the stream is complete
    TRAILING = 5        # no ``last`` on the stream's final word


def word_layout(word_width):
    """Payload of a framed stream: one word and the end-of-stream flag."""
    return data.StructLayout({"data": unsigned(word_width), "last": 1})


def _check_params(word_width, block_words):
    if word_width not in (8, 16, 32):
        raise ValueError(f"word_width must be one of 8, 16, 32, not {word_width!r}")
    if (not isinstance(block_words, int) or isinstance(block_words, bool)
            or block_words < word_width or block_words % word_width):
        raise ValueError(f"block_words must be a multiple of word_width={word_width}, "
                         f"not {block_words!r}")
    if block_words > 1024:
        raise ValueError(f"block_words must be at most 1024, not {block_words}")


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
        "count": range(block_words + 1),    # compressor: non-zeros; expander: block length
        "final": 1,
    })


class ZvcCompressor(wiring.Component):
    """Zero-value compressor: raw words in, golden-exact ZVC stream out.

    Parameters
    ----------
    word_width : int
        Bits per word: 8, 16 or 32.
    block_words : int
        W, words per block: a multiple of ``word_width``, at most 1024.

    Members
    -------
    length : ``In(stream.Signature(unsigned(32)))``
        One transfer per job: N, the number of words that follow on ``i`` (like a DMA
        descriptor; the header needs N before the first block). Accepted when idle.
    i : ``In(stream.Signature(unsigned(word_width)))``
        The N raw words of the job.
    o : ``Out(stream.Signature(word_layout(word_width)))``
        Header, masks and non-zero words; ``last`` on the job's final word.

    Throughput: one input word per cycle while ``W/word_width + nnz <= W`` per block,
    else one output word per cycle. Latency: a block's mask leaves one cycle after the
    block's last word arrives. The header goes out while block 0 comes in.

    Raises
    ------
    ValueError
        On a bad parameter; the message names it.
    """

    def __init__(self, word_width=8, *, block_words=32):
        _check_params(word_width, block_words)
        self.word_width = word_width
        self.block_words = block_words
        super().__init__({
            "length": In(stream.Signature(unsigned(LENGTH_BITS))),
            "i": In(stream.Signature(unsigned(word_width))),
            "o": Out(stream.Signature(word_layout(word_width))),
        })

    def elaborate(self, platform):
        m = Module()
        ww, nw = self.word_width, self.block_words
        mask_words = nw // ww
        header_words = HEADER_BITS // ww
        entry_layout = _mask_entry_layout(nw)

        m.submodules.data_fifo = data_fifo = fifo.SyncFIFO(width=ww, depth=2 * nw)
        m.submodules.mask_fifo = mask_fifo = fifo.SyncFIFO(
            width=entry_layout.size, depth=2)

        # --- input side: build each block's mask, queue its non-zero words ----------------

        busy = Signal()
        remaining = Signal(LENGTH_BITS)
        pos = Signal(range(nw))
        mask = Signal(nw)
        count = Signal(range(nw + 1))

        block_end = (pos == nw - 1) | (remaining == 1)
        nonzero = self.i.payload != 0
        m.d.comb += self.i.ready.eq(busy & data_fifo.w_rdy & (~block_end | mask_fifo.w_rdy))
        accept = self.i.valid & self.i.ready

        entry = Signal(entry_layout)
        m.d.comb += [
            data_fifo.w_data.eq(self.i.payload),
            data_fifo.w_en.eq(accept & nonzero),
            entry.mask.eq(mask | (nonzero << pos)),
            entry.count.eq(count + nonzero),
            entry.final.eq(remaining == 1),
            mask_fifo.w_data.eq(entry),
            mask_fifo.w_en.eq(accept & block_end),
        ]
        with m.If(accept):
            m.d.sync += remaining.eq(remaining - 1)
            with m.If(block_end):
                m.d.sync += [pos.eq(0), mask.eq(0), count.eq(0)]
            with m.Else():
                m.d.sync += [pos.eq(pos + 1), mask.eq(entry.mask), count.eq(entry.count)]
            with m.If(remaining == 1):
                m.d.sync += busy.eq(0)

        # --- output side: header, then per block its mask words and non-zero words --------

        length = Signal(LENGTH_BITS)
        header = Signal(HeaderLayout)
        header_view = data.View(data.ArrayLayout(ww, header_words), header.as_value())
        head = data.View(entry_layout, mask_fifo.r_data)
        mask_view = data.View(data.ArrayLayout(ww, mask_words), head.mask)
        index = Signal(range(max(header_words, mask_words)))
        left = Signal(range(nw + 1))
        done = self.o.valid & self.o.ready
        m.d.comb += [
            header.magic.eq(MAGIC),
            header.word_width.eq(ww),
            header.block_words.eq(nw),
            header.length.eq(length),
        ]

        with m.FSM(name="emit"):
            with m.State("IDLE"):
                m.d.comb += self.length.ready.eq(1)
                with m.If(self.length.valid):
                    m.d.sync += [
                        length.eq(self.length.payload),
                        remaining.eq(self.length.payload),
                        busy.eq(self.length.payload != 0),
                        index.eq(0),
                    ]
                    m.next = "HEADER"

            with m.State("HEADER"):
                m.d.comb += [
                    self.o.valid.eq(1),
                    self.o.payload.data.eq(header_view[index]),
                    self.o.payload.last.eq((length == 0) & (index == header_words - 1)),
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
                    self.o.valid.eq(mask_fifo.r_rdy),
                    self.o.payload.data.eq(mask_view[index]),
                    self.o.payload.last.eq(head.final & (head.count == 0) & mask_done),
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
                    self.o.valid.eq(data_fifo.r_rdy),
                    self.o.payload.data.eq(data_fifo.r_data),
                    self.o.payload.last.eq(head.final & (left == 1)),
                ]
                with m.If(done):
                    m.d.comb += data_fifo.r_en.eq(1)
                    m.d.sync += left.eq(left - 1)
                    with m.If(left == 1):
                        m.d.comb += mask_fifo.r_en.eq(1)
                        m.next = "IDLE"
                        with m.If(~head.final):
                            m.next = "MASK"

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

    Members
    -------
    i : ``In(stream.Signature(word_layout(word_width)))``
        Compressed streams, ``last`` on each one's final word.
    o : ``Out(stream.Signature(word_layout(word_width)))``
        The N words of each stream, ``last`` on the final one (a stream with N = 0
        produces no beat).
    error : ``Out(ZvcStatus)``
        The first error since reset; sticky until reset.

    On an error the expander abandons the stream: the words of it still queued are
    dropped (a beat already on ``o`` completes, no ``last`` follows), the input is
    drained up to and including its ``last`` beat, and the next stream is decoded
    normally. It never stalls its input indefinitely on bad data.

    Throughput: one output word per cycle while ``W/word_width + nnz <= W`` per block,
    else one input word per cycle. A new stream's header is accepted once the previous
    stream's words have all been emitted.

    Raises
    ------
    ValueError
        On a bad parameter; the message names it.
    """

    def __init__(self, word_width=8, *, block_words=32):
        _check_params(word_width, block_words)
        self.word_width = word_width
        self.block_words = block_words
        super().__init__({
            "i": In(stream.Signature(word_layout(word_width))),
            "o": Out(stream.Signature(word_layout(word_width))),
            "error": Out(ZvcStatus),
        })

    def elaborate(self, platform):
        m = Module()
        ww, nw = self.word_width, self.block_words
        mask_words = nw // ww
        header_words = HEADER_BITS // ww
        entry_layout = _mask_entry_layout(nw)

        flush = Signal()
        m.submodules.data_fifo = data_fifo = ResetInserter(flush)(
            fifo.SyncFIFO(width=ww, depth=2 * nw))
        m.submodules.mask_fifo = mask_fifo = ResetInserter(flush)(
            fifo.SyncFIFO(width=entry_layout.size, depth=2))

        # --- parser: header, masks and values into the two queues -------------------------

        word = self.i.payload.data
        is_last = self.i.payload.last
        accept = self.i.valid & self.i.ready
        index = Signal(range(max(header_words, mask_words)))
        header_bits = Signal(HEADER_BITS)
        mask_bits = Signal(nw)
        remaining = Signal(LENGTH_BITS)
        left = Signal(range(nw + 1))
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
            data_fifo.w_data.eq(word),
        ]

        error = Signal(ZvcStatus)
        m.d.comb += self.error.eq(error)

        def fail(code):
            with m.If(error == ZvcStatus.OK):
                m.d.sync += error.eq(code)
            m.d.comb += flush.eq(1)
            m.next = "DRAIN"
            with m.If(is_last):
                m.next = "HEADER"
            m.d.sync += index.eq(0)

        with m.FSM(name="parse"):
            with m.State("HEADER"):
                # A new stream waits for the previous one's blocks to be emitted, so that
                # an error in it never flushes words of the stream before.
                m.d.comb += self.i.ready.eq((index != 0) | ~mask_fifo.r_rdy)
                with m.If(accept):
                    m.d.sync += [header_bits.eq(header.as_value()), index.eq(index + 1)]
                    with m.If(index == header_words - 1):
                        m.d.sync += [index.eq(0), remaining.eq(header.length)]
                        with m.If(header.magic != MAGIC):
                            fail(ZvcStatus.HEADER)
                        with m.Elif(header.word_width != ww):
                            fail(ZvcStatus.WORD_WIDTH)
                        with m.Elif(header.block_words != nw):
                            fail(ZvcStatus.HEADER)
                        with m.Elif(header.length == 0):
                            with m.If(~is_last):
                                fail(ZvcStatus.TRAILING)
                        with m.Elif(is_last):
                            fail(ZvcStatus.TRUNCATED)
                        with m.Else():
                            m.next = "MASK"
                    with m.Elif(is_last):
                        fail(ZvcStatus.TRUNCATED)

            with m.State("MASK"):
                mask_done = index == mask_words - 1
                m.d.comb += self.i.ready.eq(~mask_done | mask_fifo.w_rdy)
                with m.If(accept):
                    m.d.sync += [mask_bits.eq(mask), index.eq(index + 1)]
                    with m.If(mask_done):
                        m.d.sync += [
                            index.eq(0),
                            remaining.eq(remaining - block_len),
                            left.eq(nnz),
                            final.eq(last_block),
                        ]
                        with m.If(beyond):
                            fail(ZvcStatus.MASK)
                        with m.Else():
                            m.d.comb += mask_fifo.w_en.eq(1)
                            with m.If(nnz != 0):
                                with m.If(is_last):
                                    fail(ZvcStatus.TRUNCATED)
                                with m.Else():
                                    m.next = "DATA"
                            with m.Elif(last_block):
                                with m.If(~is_last):
                                    fail(ZvcStatus.TRAILING)
                                with m.Else():
                                    m.next = "HEADER"
                            with m.Elif(is_last):
                                fail(ZvcStatus.TRUNCATED)
                    with m.Elif(is_last):
                        fail(ZvcStatus.TRUNCATED)

            with m.State("DATA"):
                m.d.comb += self.i.ready.eq(data_fifo.w_rdy)
                with m.If(accept):
                    m.d.comb += data_fifo.w_en.eq(1)
                    m.d.sync += left.eq(left - 1)
                    with m.If(left == 1):
                        with m.If(final):
                            with m.If(~is_last):
                                fail(ZvcStatus.TRAILING)
                            with m.Else():
                                m.next = "HEADER"
                        with m.Elif(is_last):
                            fail(ZvcStatus.TRUNCATED)
                        with m.Else():
                            m.next = "MASK"
                    with m.Elif(is_last):
                        fail(ZvcStatus.TRUNCATED)

            with m.State("DRAIN"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(accept & is_last):
                    m.next = "HEADER"

        # --- emitter: one word per cycle, zero or the next queued value ------------------

        head = data.View(entry_layout, mask_fifo.r_data)
        pos = Signal(range(nw))
        bit = head.mask.bit_select(pos, 1)
        block_done = pos == head.count - 1
        can_emit = mask_fifo.r_rdy & (~bit | data_fifo.r_rdy)
        o_valid = Signal()
        o_payload = Signal(word_layout(ww))
        m.d.comb += [self.o.valid.eq(o_valid), self.o.payload.eq(o_payload)]

        with m.If(self.o.ready):
            m.d.sync += o_valid.eq(0)
        with m.If((~o_valid | self.o.ready) & can_emit & ~flush):
            m.d.comb += data_fifo.r_en.eq(bit)
            m.d.sync += [
                o_valid.eq(1),
                o_payload.data.eq(Mux(bit, data_fifo.r_data, 0)),
                o_payload.last.eq(head.final & block_done),
                pos.eq(pos + 1),
            ]
            with m.If(block_done):
                m.d.comb += mask_fifo.r_en.eq(1)
                m.d.sync += pos.eq(0)
        with m.If(flush):
            m.d.sync += pos.eq(0)

        return m


class ZvcCompressorTop(wiring.Component):
    """:class:`ZvcCompressor` with flat ports, for Verilog: ``length_*``, ``i_*``, ``o_*``
    (``*_valid``, ``*_ready``, ``*_data``, ``o_last``), plus ``clk`` and ``rst``."""

    def __init__(self, word_width=8, *, block_words=32):
        _check_params(word_width, block_words)
        self.core = ZvcCompressor(word_width, block_words=block_words)
        super().__init__({
            "length_valid": In(1), "length_ready": Out(1), "length_data": In(LENGTH_BITS),
            "i_valid": In(1), "i_ready": Out(1), "i_data": In(word_width),
            "o_valid": Out(1), "o_ready": In(1), "o_data": Out(word_width), "o_last": Out(1),
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
            self.o_last.eq(core.o.payload.last),
            core.o.ready.eq(self.o_ready),
        ]
        return m


class ZvcExpanderTop(wiring.Component):
    """:class:`ZvcExpander` with flat ports, for Verilog: ``i_*``, ``o_*`` (``*_valid``,
    ``*_ready``, ``*_data``, ``*_last``), ``error`` (a :class:`ZvcStatus` code), ``clk``,
    ``rst``."""

    def __init__(self, word_width=8, *, block_words=32):
        _check_params(word_width, block_words)
        self.core = ZvcExpander(word_width, block_words=block_words)
        super().__init__({
            "i_valid": In(1), "i_ready": Out(1), "i_data": In(word_width), "i_last": In(1),
            "o_valid": Out(1), "o_ready": In(1), "o_data": Out(word_width), "o_last": Out(1),
            "error": Out(3),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        m.d.comb += [
            core.i.valid.eq(self.i_valid),
            core.i.payload.data.eq(self.i_data),
            core.i.payload.last.eq(self.i_last),
            self.i_ready.eq(core.i.ready),
            self.o_valid.eq(core.o.valid),
            self.o_data.eq(core.o.payload.data),
            self.o_last.eq(core.o.payload.last),
            core.o.ready.eq(self.o_ready),
            self.error.eq(core.error),
        ]
        return m
