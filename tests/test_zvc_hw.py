# amaranth: UnusedElaboratable=no
"""Amaranth-simulator unit tests of the ZVC engines (hw/zvc.py) against golden/zvc.py."""

import numpy as np
import pytest
from amaranth.hdl import Fragment

from golden import zvc as golden_zvc
from hw.testing import simulate
from hw.zvc import (ZvcCompressor, ZvcCompressorTop, ZvcExpander, ZvcExpanderTop,
                    ZvcPacker, ZvcStatus, ZvcUnpacker)
from hw.zvc_gen import emit_compressor, emit_expander
from tb.zvc_tb import beats_of

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


def bytes_of(words, word_width):
    return np.array(words, DTYPES[word_width]).astype(f"<u{word_width // 8}").tobytes()


def beat_payload(beat):
    data, count, last = beat
    return {"data": data, "count": count, "last": last}


def check_beat_format(beats, beat_words):
    """Every beat is full except the stream's final one, which has ``last`` and 1 or more
    words; ``beats`` are ``(words, count, last)``."""
    for k, (_, count, last) in enumerate(beats):
        if last:
            assert 1 <= count <= beat_words and k == len(beats) - 1, (k, count)
        else:
            assert count == beat_words, f"beat {k}: count {count} without last"


# --- reference and RTL as plain functions ---------------------------------------------------

def golden_compress(words, word_width, block_words):
    return golden_zvc.compress(words, word_width=word_width, block_words=block_words)


def rtl_compress(words, word_width, block_words, rng=None, beat_words=2):
    dut = ZvcCompressor(word_width, block_words=block_words, beat_words=beat_words)
    out, beats = [], []

    async def producer(ctx):
        await stream_put(ctx, dut.length, len(words))
        for word in words:
            await stream_put(ctx, dut.i, int(word), rng)

    async def consumer(ctx):
        while True:
            beat = await stream_get(ctx, dut.o, rng)
            beats.append(([int(w) for w in beat.data], int(beat.count), bool(beat.last)))
            out.extend(beats[-1][0][:beats[-1][1]])
            if beat.last:
                break

    sim, _ = simulate(dut, consumer, background=[producer])
    sim.run()
    check_beat_format(beats, beat_words)
    return bytes_of(out, word_width)


def rtl_expand(streams, word_width, block_words, rng=None, beat_words=2):
    """Feed each stream in turn (a byte string, packed into beats, or a list of beats
    ``(words, count, last)``); return the words out and the status."""
    dut = ZvcExpander(word_width, block_words=block_words, beat_words=beat_words)
    beats = [b for s in streams
             for b in (beats_of(s, word_width, beat_words)
                       if isinstance(s, bytes) else s)]
    out, status = [], []

    async def producer(ctx):
        for beat in beats:
            await stream_put(ctx, dut.i, beat_payload(beat), rng)
        # Let the emitter finish: until `o.valid` has stayed low for 4 blocks of cycles (a
        # fixed wait was too short for a long last stream under random back-pressure).
        quiet, waited = 0, 0
        while quiet < 4 * block_words:
            await ctx.tick()
            waited += 1
            assert waited < 100_000, "the expander did not go idle"
            quiet = 0 if ctx.get(dut.o.valid) else quiet + 1
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

    sim, _ = simulate(dut, producer, background=[consumer])
    sim.run()
    return out, status[0]


def random_words(rng, n, density, word_width):
    words = rng.integers(1, 1 << word_width, n, dtype=np.uint64)
    return np.where(rng.random(n) < density, words, 0).astype(DTYPES[word_width])


# --- construction ---------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [ZvcCompressor, ZvcExpander])
def test_init(cls):
    dut = cls(16, block_words=64)
    assert (dut.word_width, dut.block_words, dut.beat_words) == (16, 64, 2)
    Fragment.get(dut, None)                     # elaborates
    Fragment.get(cls(8, block_words=32, beat_words=4), None)


@pytest.mark.parametrize("cls", [ZvcCompressor, ZvcExpander, ZvcCompressorTop,
                                 ZvcExpanderTop])
def test_init_wrong_beat_words(cls):
    for bad in (1, 17, 2.0, True):
        with pytest.raises(ValueError, match=r"^beat_words must be an integer from 2 to "
                                             rf"16, not {bad!r}$"):
            cls(8, beat_words=bad)


def test_init_gearboxes():
    with pytest.raises(ValueError, match=r"^in_words must be from 1 to beat_words=2, "
                                         r"not 3$"):
        ZvcPacker(8, in_words=3, beat_words=2)
    with pytest.raises(ValueError, match=r"^out_words must be from 1 to beat_words=2, "
                                         r"not 0$"):
        ZvcUnpacker(8, beat_words=2, out_words=0)


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
    assert "output [15:0] o_data" in text and "output [1:0] o_count" in text
    assert "module zvc_compressor_w8_b32_beat2" in text
    assert emit_compressor(8, block_words=32) == text      # deterministic
    text = emit_expander(16, block_words=32, beat_words=4)
    assert "input [63:0] i_data" in text and "input [2:0] i_count" in text
    assert "i_last" in text and "module zvc_expander_w16_b32_beat4" in text


# --- simulation -----------------------------------------------------------------------------

CASES = [
    ("empty", 0, 0.0), ("one zero", 1, 0.0), ("one word", 1, 1.0),
    ("zeros", 64, 0.0), ("dense", 64, 1.0), ("partial", 45, 0.5),
]


SIM_CONFIGS = [(8, 32, 2), (16, 16, 2), (32, 64, 2), (8, 32, 3)]


@pytest.mark.parametrize("word_width,block_words,beat_words", SIM_CONFIGS)
def test_sim_compressor(rng, word_width, block_words, beat_words):
    cases = [random_words(rng, n, d, word_width) for _, n, d in CASES]
    cases += [random_words(rng, 70, rng.random(), word_width) for _ in range(2)]
    for i, words in enumerate(cases):
        expect = golden_compress(words, word_width, block_words)
        got = rtl_compress(words, word_width, block_words, rng if i % 2 else None,
                           beat_words)
        assert got == expect, f"case {i}: {got.hex()} != {expect.hex()}"


@pytest.mark.parametrize("word_width,block_words,beat_words", SIM_CONFIGS)
def test_sim_expander(rng, word_width, block_words, beat_words):
    cases = [random_words(rng, n, d, word_width) for _, n, d in CASES]
    cases += [random_words(rng, 70, rng.random(), word_width) for _ in range(2)]
    streams = [golden_compress(w, word_width, block_words) for w in cases]
    out, status = rtl_expand(streams, word_width, block_words, rng, beat_words)
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


# --- gearboxes --------------------------------------------------------------------------------

@pytest.mark.parametrize("in_words,beat_words", [(2, 2), (2, 3), (1, 4), (2, 4)])
def test_packer(rng, in_words, beat_words):
    """Groups of random sizes in, random gaps and stalls: full beats out, the final one of
    each stream partial with ``last``, the words unchanged and in order."""
    dut = ZvcPacker(8, in_words=in_words, beat_words=beat_words)
    streams = [[int(w) for w in rng.integers(0, 256, int(rng.integers(1, 20)))]
               for _ in range(12)]
    got, beats = [], []

    async def producer(ctx):
        for words in streams:
            pos = 0
            while pos < len(words):
                count = min(int(rng.integers(1, in_words + 1)), len(words) - pos)
                group = words[pos:pos + count] + [0] * (in_words - count)
                pos += count
                await stream_put(ctx, dut.i, {"data": group, "count": count,
                                              "last": pos == len(words)}, rng)

    async def consumer(ctx):
        current = []
        while len(got) < len(streams):
            beat = await stream_get(ctx, dut.o, rng)
            beats.append(([int(w) for w in beat.data], int(beat.count), bool(beat.last)))
            current += beats[-1][0][:beats[-1][1]]
            if beat.last:
                check_beat_format(beats, beat_words)
                got.append(current)
                current, beats[:] = [], []

    sim, _ = simulate(dut, consumer, background=[producer])
    sim.run()
    assert got == streams


def test_packer_never_stalls_input():
    """With ``o.ready`` high, groups of 2 are taken every cycle within a stream, and a
    full beat leaves the cycle after it completes."""
    dut = ZvcPacker(8, in_words=2, beat_words=2)

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        out = []
        for k in range(20):
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, {"data": [2 * k, 2 * k + 1], "count": 1 + k % 2,
                                    "last": k == 19})
            _, _, ready, valid, beat = await ctx.tick().sample(
                dut.i.ready, dut.o.valid, dut.o.payload)
            assert ready, f"group {k} stalled"
            if valid:
                out.append(int(beat.count))
        ctx.set(dut.i.valid, 0)
        for _ in range(3):
            _, _, valid, beat = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            if valid:
                out.append(int(beat.count))
        assert sum(out) == 30 and out[:-1] == [2] * (len(out) - 1)

    sim, _ = simulate(dut, bench)
    sim.run()


@pytest.mark.parametrize("beat_words,out_words", [(2, 2), (3, 2), (4, 1)])
def test_unpacker(rng, beat_words, out_words):
    """Beats in, a consumer that takes a random number of the available words: the words
    come out in order, ``last`` on each stream's final word; a malformed beat becomes one
    ``bad`` entry with the beat's ``last``."""
    dut = ZvcUnpacker(8, beat_words=beat_words, out_words=out_words)
    beats, expect = [], []
    for _ in range(40):
        words = [int(w) for w in rng.integers(0, 256, beat_words)]
        last = bool(rng.random() < 0.3)
        count = int(rng.integers(1, beat_words + 1)) if last else beat_words
        if rng.random() < 0.15:             # malformed: an impossible count
            top = (1 << beat_words.bit_length()) - 1    # the largest count that fits
            count = int(rng.choice([c for c in range(top + 1) if c != beat_words and
                                    (c == 0 or c > beat_words or not last)]))
            expect.append((0, last, True))
        else:
            expect += [(w, last and k == count - 1, False)
                       for k, w in enumerate(words[:count])]
        beats.append((words, count, last))
    got = []

    async def producer(ctx):
        for beat in beats:
            await stream_put(ctx, dut.i, beat_payload(beat), rng)

    async def consumer(ctx):
        while len(got) < len(expect):
            available = ctx.get(dut.available)
            take = int(rng.integers(0, available + 1))
            for k in range(take):
                entry = ctx.get(dut.window[k])
                got.append((int(entry.data) if not entry.bad else 0, bool(entry.last),
                            bool(entry.bad)))
            ctx.set(dut.take, take)
            await ctx.tick()

    sim, _ = simulate(dut, consumer, background=[producer])
    sim.run()
    assert got == expect


@pytest.mark.parametrize("beat_words", [2, 3])
def test_sim_expander_malformed_beats(beat_words):
    """Beats whose counts break the format: a final count too small (TRUNCATED) or too
    big (TRAILING), and counts no beat can have (TRUNCATED); the next stream decodes."""
    ww, nw = 8, 32
    after = np.arange(1, 11, dtype=np.uint8)
    good_next = golden_compress(after, ww, nw)
    cases = []
    for n in range(30, 40):                 # streams ending in a full and a partial beat
        beats = beats_of(golden_compress(np.arange(n, dtype=np.uint8), ww, nw), ww,
                         beat_words)
        data, count, _ = beats[-1]
        if count == beat_words:
            cases += [
                ("final count too small", beats[:-1] + [(data, count - 1, True)],
                 ZvcStatus.TRUNCATED),
                ("final count 0", beats[:-1] + [(data, 0, True)], ZvcStatus.TRUNCATED),
                ("short middle beat", beats[:1] + [(beats[1][0], 1, False)] + beats[2:],
                 ZvcStatus.TRUNCATED),
            ]
            if beat_words + 1 < 1 << beat_words.bit_length():     # count can say bw + 1
                cases.append(("final count too big for a beat",
                              beats[:-1] + [(data, count + 1, True)], ZvcStatus.TRUNCATED))
        else:
            cases.append(("final count too big", beats[:-1] + [(data, count + 1, True)],
                          ZvcStatus.TRAILING))
    names = {name for name, _, _ in cases}
    assert names >= {"final count too small", "final count too big"}, names
    for name, bad, status in cases:
        out, got = rtl_expand([bad, good_next], ww, nw, beat_words=beat_words)
        assert got == status, name
        assert [int(d) for d, _ in out[-len(after):]] == after.tolist(), name
        assert out[-1][1] and not any(last for _, last in out[:-1]), name


# --- error precedence (docs/zvc.md "Error precedence") -------------------------------------

def precedence_streams(word_width, block_words):
    """(name, bytes, expected golden class) where two faults compete: a bad field inside a
    header or mask that the stream's end cuts short is TRUNCATED (the header and each mask
    are checked whole, once complete); a complete bad header or mask before a later fault
    wins over it."""
    wb = word_width // 8
    good = golden_compress(np.array([0, 3, 0, 5] * 10, DTYPES[word_width]), word_width,
                           block_words)
    bad_magic = bytes([0x33]) + good[1:]
    bad_width = good[:1] + bytes([8 if word_width != 8 else 16]) + good[2:]
    header = bytearray(good[:8])
    header[4:8] = (5).to_bytes(4, "little")
    mask_bytes = block_words // 8
    mask = (1 << 7).to_bytes(mask_bytes, "little")     # bit 7 set, length 5: bad
    cases = [
        ("bad magic, cut in the header", bad_magic[:8 - wb], golden_zvc.ZvcTruncatedError),
        ("bad width, cut in the header", bad_width[:8 - wb], golden_zvc.ZvcTruncatedError),
        ("bad magic, then cut in block 0", bad_magic[:-wb], golden_zvc.ZvcHeaderError),
        ("bad mask, then cut in the values", bytes(header) + mask,
         golden_zvc.ZvcMaskError),
        ("bad mask, then trailing data", bytes(header) + mask + bytes(2 * wb),
         golden_zvc.ZvcMaskError),
    ]
    if mask_bytes > wb:     # a mask of several words: cut after its first (bad) word
        cases.append(("bad mask bit, cut in the mask", bytes(header) + mask[:mask_bytes - wb],
                      golden_zvc.ZvcTruncatedError))
    return cases


@pytest.mark.parametrize("word_width,block_words", [(8, 32), (8, 64), (16, 32), (32, 32)])
def test_sim_expander_error_precedence(word_width, block_words):
    """Golden and RTL agree on which of two faults a stream reports, and a good stream after
    it decodes."""
    after = np.arange(1, 11, dtype=DTYPES[word_width])
    good = golden_compress(after, word_width, block_words)
    cases = precedence_streams(word_width, block_words)
    assert len(cases) >= 5
    for name, bad, expected in cases:
        with pytest.raises(golden_zvc.ZvcError) as info:
            golden_zvc.expand(bad, word_width=word_width, block_words=block_words)
        assert type(info.value) is expected, name
        out, status = rtl_expand([bad, good], word_width, block_words)
        assert status == STATUS_OF[expected], name
        assert [int(d) for d, _ in out[-len(after):]] == after.tolist(), name
