# amaranth: UnusedElaboratable=no
"""Amaranth-simulator unit tests of the ZVC engines (hw/zvc.py) against golden/zvc.py."""

import numpy as np
import pytest
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from golden import zvc as golden_zvc
from hw.zvc import ZvcCompressor, ZvcCompressorTop, ZvcExpander, ZvcStatus
from hw.zvc_gen import emit_compressor, emit_expander

DTYPES = {8: np.uint8, 16: np.uint16, 32: np.uint32}
#: The hardware status code each golden error maps to.
STATUS_OF = {
    golden_zvc.ZvcHeaderError: ZvcStatus.HEADER,
    golden_zvc.ZvcWordWidthError: ZvcStatus.WORD_WIDTH,
    golden_zvc.ZvcMaskError: ZvcStatus.MASK,
    golden_zvc.ZvcTruncatedError: ZvcStatus.TRUNCATED,
    golden_zvc.ZvcTrailingDataError: ZvcStatus.TRAILING,
}


# --- stream helpers -------------------------------------------------------------------------

async def stream_put(ctx, stream, payload, rng=None):
    """Offer ``payload`` on ``stream`` until it is taken; with ``rng``, idle first at random."""
    while rng is not None and rng.random() < 0.3:
        await ctx.tick()
    ctx.set(stream.valid, 1)
    ctx.set(stream.payload, payload)
    await ctx.tick().until(stream.ready)
    ctx.set(stream.valid, 0)


async def stream_get(ctx, stream, rng=None):
    """Take one payload from ``stream``; with ``rng``, stall at random first."""
    while rng is not None and rng.random() < 0.3:
        await ctx.tick()
    ctx.set(stream.ready, 1)
    payload, = await ctx.tick().sample(stream.payload).until(stream.valid)
    ctx.set(stream.ready, 0)
    return payload


def words_of(blob, word_width):
    return np.frombuffer(blob, np.dtype(DTYPES[word_width]).newbyteorder("<"))


# --- reference and RTL as plain functions ---------------------------------------------------

def golden_compress(words, word_width, block_words):
    return golden_zvc.compress(words, word_width=word_width, block_words=block_words)


def rtl_compress(words, word_width, block_words, rng=None):
    dut = ZvcCompressor(word_width, block_words=block_words)
    out = []

    async def producer(ctx):
        await stream_put(ctx, dut.length, len(words))
        for word in words:
            await stream_put(ctx, dut.i, int(word), rng)

    async def consumer(ctx):
        while True:
            beat = await stream_get(ctx, dut.o, rng)
            out.append(beat.data)
            if beat.last:
                break

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer, background=True)
    sim.add_testbench(consumer)
    sim.run()
    return np.array(out, DTYPES[word_width]).astype("<u%d" % (word_width // 8)).tobytes()


def rtl_expand(streams, word_width, block_words, rng=None):
    """Feed each byte string of ``streams`` in turn; return the words out and the status."""
    dut = ZvcExpander(word_width, block_words=block_words)
    beats = [(int(w), i == len(words_of(s, word_width)) - 1)
             for s in streams for i, w in enumerate(words_of(s, word_width))]
    out, status = [], []

    async def producer(ctx):
        for word, last in beats:
            await stream_put(ctx, dut.i, {"data": word, "last": last}, rng)
        for _ in range(4 * block_words):        # let the emitter finish
            await ctx.tick()
        status.append(ctx.get(dut.error))

    async def consumer(ctx):
        ctx.set(dut.o.ready, 1)
        while True:
            _, _, valid, ready, beat = await ctx.tick().sample(dut.o.valid, dut.o.ready,
                                                               dut.o.payload)
            if valid and ready:
                out.append((beat.data, beat.last))
            if rng is not None:
                ctx.set(dut.o.ready, int(rng.random() < 0.7))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer, background=True)
    sim.run()
    return out, status[0]


def random_words(rng, n, density, word_width):
    words = rng.integers(1, 1 << word_width, n, dtype=np.uint64)
    return np.where(rng.random(n) < density, words, 0).astype(DTYPES[word_width])


# --- construction ---------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [ZvcCompressor, ZvcExpander])
def test_init(cls):
    dut = cls(16, block_words=64)
    assert (dut.word_width, dut.block_words) == (16, 64)
    Fragment.get(dut, None)                     # elaborates


@pytest.mark.parametrize("cls", [ZvcCompressor, ZvcExpander, ZvcCompressorTop])
def test_init_wrong_word_width(cls):
    with pytest.raises(ValueError, match=r"^word_width must be one of 8, 16, 32, not 12$"):
        cls(12)


@pytest.mark.parametrize("cls", [ZvcCompressor, ZvcExpander])
def test_init_wrong_block_words(cls):
    with pytest.raises(ValueError,
                       match=r"^block_words must be a multiple of word_width=8, not 6$"):
        cls(8, block_words=6)
    with pytest.raises(ValueError,
                       match=r"^block_words must be a multiple of word_width=32, not 16$"):
        cls(32, block_words=16)
    with pytest.raises(ValueError, match=r"^block_words must be at most 1024, not 2048$"):
        cls(8, block_words=2048)


def test_emit_verilog_flat_ports():
    text = emit_compressor(8, block_words=32)
    for port in ("length_valid", "i_data", "o_last", "clk", "rst"):
        assert f" {port}" in text
    assert emit_compressor(8, block_words=32) == text      # deterministic
    assert "i_last" in emit_expander(16, block_words=32)


# --- simulation -----------------------------------------------------------------------------

CASES = [
    ("empty", 0, 0.0), ("one zero", 1, 0.0), ("one word", 1, 1.0),
    ("zeros", 64, 0.0), ("dense", 64, 1.0), ("partial", 45, 0.5),
]


@pytest.mark.parametrize("word_width,block_words", [(8, 32), (16, 16), (32, 64)])
def test_sim_compressor(rng, word_width, block_words):
    cases = [random_words(rng, n, d, word_width) for _, n, d in CASES]
    cases += [random_words(rng, 70, rng.random(), word_width) for _ in range(2)]
    for i, words in enumerate(cases):
        expect = golden_compress(words, word_width, block_words)
        got = rtl_compress(words, word_width, block_words, rng if i % 2 else None)
        assert got == expect, f"case {i}: {got.hex()} != {expect.hex()}"


@pytest.mark.parametrize("word_width,block_words", [(8, 32), (16, 16), (32, 64)])
def test_sim_expander(rng, word_width, block_words):
    cases = [random_words(rng, n, d, word_width) for _, n, d in CASES]
    cases += [random_words(rng, 70, rng.random(), word_width) for _ in range(2)]
    streams = [golden_compress(w, word_width, block_words) for w in cases]
    out, status = rtl_expand(streams, word_width, block_words, rng)
    assert status == ZvcStatus.OK
    expect = [(int(w), i == len(ws) - 1) for ws in cases for i, w in enumerate(ws)]
    assert [(int(d), bool(last)) for d, last in out] == expect


def malformed_streams(word_width, block_words):
    """(name, bytes) of streams that golden expand rejects, one per error class at least."""
    wb = word_width // 8
    good = golden_compress(np.array([0, 3, 0, 5] * 10, DTYPES[word_width]), word_width,
                           block_words)
    header = bytearray(good[:8])
    bad_magic = bytes([0x33]) + good[1:]
    bad_width = good[:1] + bytes([8 if word_width != 8 else 16]) + good[2:]
    bad_block = good[:2] + (block_words * 2).to_bytes(2, "little") + good[4:]
    # Length 5 words: the single (partial) block's mask may only use bits 0..4.
    header[4:8] = (5).to_bytes(4, "little")
    mask = (1 << 7).to_bytes(block_words // 8, "little")
    bad_mask = bytes(header) + mask + bytes(wb)
    return [
        ("header", bad_magic), ("word width", bad_width), ("block size", bad_block),
        ("mask", bad_mask), ("truncated in header", good[:4 if wb < 8 else 8 - wb]),
        ("truncated", good[:-wb]), ("trailing", good + bytes(wb)),
        ("empty with trailing", golden_compress([], word_width, block_words) + bytes(wb)),
    ]


@pytest.mark.parametrize("word_width,block_words", [(8, 32), (32, 32)])
def test_sim_expander_malformed(word_width, block_words):
    after = np.arange(1, 11, dtype=DTYPES[word_width])
    good = golden_compress(after, word_width, block_words)
    for name, bad in malformed_streams(word_width, block_words):
        if len(bad) % (word_width // 8):
            continue
        with pytest.raises(golden_zvc.ZvcError) as info:
            golden_zvc.expand(bad, word_width=word_width, block_words=block_words)
        out, status = rtl_expand([bad, good], word_width, block_words)
        assert status == STATUS_OF[type(info.value)], name
        # The good stream after the bad one decodes completely, ending in ``last``.
        assert [int(d) for d, _ in out[-len(after):]] == after.tolist(), name
        assert out[-1][1] and not any(last for _, last in out[:-1]), name
