"""cocotb tests of the ZVC expander (flat top of hw.zvc.ZvcExpander) against golden.

Configuration from the environment (tests/test_zvc_sim.py sets it): ZVC_WORD_WIDTH,
ZVC_BLOCK_WORDS, SEED; ZVC_THROUGHPUT_JSON, if set, receives the measured cycle counts.
"""


import cocotb
import numpy as np

from golden import zvc as golden_zvc
from tb.zvc_tb import (ZvcExpanderTB, config_from_env, random_pauses, random_words,
                       save_throughput, throughput_record)

WORD_WIDTH, BLOCK_WORDS, SEED = config_from_env()
WORD_BYTES = WORD_WIDTH // 8
MASK_WORDS = BLOCK_WORDS // WORD_WIDTH
HEADER_WORDS = 64 // WORD_WIDTH


def ideal_cycles(words):
    """Cycles from the first input to the last output transfer of an engine with no bubbles.

    The input takes one word per cycle; the output can start once block 0's mask is in
    and then gives one word per cycle; after the last input word, the final block's
    trailing zeros still go out.
    """
    n = len(words)
    nz = np.flatnonzero(words)
    tail = n - 1 - nz[-1] if nz.size else min(n, BLOCK_WORDS) - 1
    tail = min(tail, (n - 1) % BLOCK_WORDS)     # zeros of the final block after its last value
    compressed = HEADER_WORDS + -(-n // BLOCK_WORDS) * MASK_WORDS + nz.size
    return int(max(compressed + tail, HEADER_WORDS + MASK_WORDS + n))


async def make_tb(dut, salt):
    tb = ZvcExpanderTB(dut, WORD_WIDTH, BLOCK_WORDS)
    await tb.reset()
    rng = np.random.default_rng([SEED, salt])
    dut._log.info(f"word_width {WORD_WIDTH} block_words {BLOCK_WORDS} seed {SEED} "
                  f"(replay with SEED={SEED})")
    return tb, rng


def compress(words):
    return golden_zvc.compress(words, word_width=WORD_WIDTH, block_words=BLOCK_WORDS)


def expected_beats(jobs):
    return [(int(w), int(i == len(ws) - 1)) for ws in jobs for i, w in enumerate(ws)]


async def run_good(tb, jobs, **kwargs):
    streams = [compress(w) for w in jobs]
    for s, w in zip(streams, jobs):             # the model must round-trip first
        words, status = tb.model(s)
        assert status == 0 and np.array_equal(words, w)
    beats, stats = await tb.run(streams, expect_words=sum(len(w) for w in jobs), **kwargs)
    assert stats["error"] == 0, f"error status {stats['error']}"
    assert beats == expected_beats(jobs)
    return stats


@cocotb.test()
async def test_edge_cases(dut):
    """Empty, single words, all-zero, all-non-zero and partial final blocks."""
    tb, rng = await make_tb(dut, 1)
    w = BLOCK_WORDS
    jobs = [random_words(rng, n, d, WORD_WIDTH) for n, d in [
        (0, 0), (1, 0), (1, 1), (w, 0), (w, 1), (3 * w, 0), (3 * w, 1),
        (w - 1, 1), (w + 1, 1), (2 * w + 5, 0), (w + 3, 0.5), (0, 0)]]
    await run_good(tb, jobs)


@cocotb.test()
@cocotb.parametrize(in_idle=[0.0, 0.3], out_stall=[0.0, 0.5])
async def test_random_densities(dut, in_idle, out_stall):
    """Densities 0 % to 100 %, random lengths, back-pressure on both sides, back to back."""
    tb, rng = await make_tb(dut, 2 + int(10 * in_idle) + int(100 * out_stall))
    jobs = [random_words(rng, int(rng.integers(1, 3 * BLOCK_WORDS)), d, WORD_WIDTH)
            for d in np.linspace(0, 1, 11)]
    await run_good(tb, jobs, in_pause=random_pauses(rng, in_idle),
                   out_pause=random_pauses(rng, out_stall))


def malformed(rng):
    """(name, stream) pairs that the golden model rejects, whole words only."""
    w = BLOCK_WORDS
    good = compress(random_words(rng, 3 * w + 5, 0.5, WORD_WIDTH))
    mask_bytes = w // 8
    header = bytearray(good[:8])
    header[4:8] = (5).to_bytes(4, "little")
    bad_mask = bytes(header) + (1 << 6).to_bytes(mask_bytes, "little") + bytes(WORD_BYTES)
    other_width = 16 if WORD_WIDTH == 8 else 8
    return [
        ("bad magic", b"\x00" + good[1:]),
        ("wrong word width", good[:1] + bytes([other_width]) + good[2:]),
        ("wrong block size", good[:2] + (2 * w).to_bytes(2, "little") + good[4:]),
        ("mask beyond length", bad_mask),
        ("truncated in header", good[:8 - WORD_BYTES]),
        ("truncated in mask", good[:8 + WORD_BYTES] if mask_bytes > WORD_BYTES else good[:8]),
        ("truncated in values", good[:-WORD_BYTES]),
        ("trailing word", good + good[-WORD_BYTES:]),
        ("empty with trailing", compress([]) + bytes(WORD_BYTES)),
    ]


@cocotb.test()
@cocotb.parametrize(out_stall=[0.0, 0.4])
async def test_malformed(dut, out_stall):
    """Each malformed stream sets the golden model's error; the next stream still decodes."""
    tb, rng = await make_tb(dut, 5 + int(10 * out_stall))
    for name, bad in malformed(rng):
        words, status = tb.model(bad)
        assert words is None and status != 0, name
        follow = random_words(rng, 2 * BLOCK_WORDS + 1, 0.5, WORD_WIDTH)
        beats, stats = await tb.run([bad, compress(follow)], expect_words=len(follow),
                                    out_pause=random_pauses(rng, out_stall))
        assert stats["error"] == status, f"{name}: status {stats['error']} != {status}"
        # Whatever came out of the bad stream has no ``last``; the good one is complete.
        assert beats[-len(follow):] == expected_beats([follow]), name
        assert not any(last for _, last in beats[:-len(follow)]), name
        await tb.reset()                        # the status is sticky until reset


@cocotb.test()
async def test_reset_mid_stream(dut):
    """A reset mid-stream (and mid-drain after an error) recovers cleanly."""
    tb, rng = await make_tb(dut, 6)
    long = compress(random_words(rng, 4 * BLOCK_WORDS, 0.6, WORD_WIDTH))
    for abort, stream in [(5, long), (BLOCK_WORDS, long), (3 * BLOCK_WORDS, long),
                          (12, b"\x00" + long[1:])]:
        await tb.run([stream], expect_words=4 * BLOCK_WORDS, abort_after=abort,
                     out_pause=random_pauses(rng, 0.3))
        await tb.reset()
        await run_good(tb, [random_words(rng, 2 * BLOCK_WORDS + 3, 0.5, WORD_WIDTH)],
                       in_pause=random_pauses(rng, 0.2))


@cocotb.test()
async def test_throughput(dut):
    """Cycle counts: the engine runs at the rate of its busier port, one word per cycle."""
    tb, rng = await make_tb(dut, 7)
    n = 64 * BLOCK_WORDS
    results = []
    for density in (0.0, 0.25, 0.5, 0.75, 1.0):
        words = random_words(rng, n, density, WORD_WIDTH)
        stats = await run_good(tb, [words], settle=0)
        results.append(throughput_record(dut._log, density, words, stats,
                                         ideal_cycles(words), "out"))
    save_throughput(results)
