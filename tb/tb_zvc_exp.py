"""cocotb tests of the ZVC expander (flat top of hw.zvc.ZvcExpander) against golden.

Configuration from the environment (tests/test_zvc_sim.py sets it): ZVC_WORD_WIDTH,
ZVC_BLOCK_WORDS, ZVC_BEAT_WORDS, SEED; ZVC_THROUGHPUT_JSON, if set, receives the measured
cycle counts.
"""


import cocotb
import numpy as np

from golden import zvc as golden_zvc
from tb.zvc_tb import (STATUS, ZvcExpanderTB, beats_of, config_from_env, random_pauses,
                       random_words, save_throughput)

WORD_WIDTH, BLOCK_WORDS, BEAT_WORDS, SEED = config_from_env()
WORD_BYTES = WORD_WIDTH // 8
MASK_WORDS = BLOCK_WORDS // WORD_WIDTH
HEADER_WORDS = 64 // WORD_WIDTH
#: Cycles from a stream's first beat to its last output word (both counted), minus N: the
#: header and block 0's mask are parsed one word per cycle, then 3 cycles of pipeline
#: (unpacker register, buffered mask FIFO, output register), then N words back to back.
START_LATENCY = HEADER_WORDS + MASK_WORDS + 3
#: Whether ``i_count`` (range(beat_words + 1)) can carry a value above beat_words.
COUNT_ABOVE_BEAT = BEAT_WORDS + 1 < 1 << BEAT_WORDS.bit_length()


async def make_tb(dut, salt):
    tb = ZvcExpanderTB(dut, WORD_WIDTH, BLOCK_WORDS, BEAT_WORDS)
    await tb.reset()
    rng = np.random.default_rng([SEED, salt])
    dut._log.info(f"word_width {WORD_WIDTH} block_words {BLOCK_WORDS} beat_words "
                  f"{BEAT_WORDS} seed {SEED} (replay with SEED={SEED})")
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


def good_stream(rng, partial_final):
    """A random compressed stream whose final beat is partial (or, if not
    ``partial_final``, full)."""
    while True:
        blob = compress(random_words(rng, int(rng.integers(1, 3 * BLOCK_WORDS)), 0.5,
                                     WORD_WIDTH))
        if bool((len(blob) // WORD_BYTES) % BEAT_WORDS) == partial_final:
            return blob


def golden_status(beats):
    """The golden model's status for the bytes a list of beats carries (each beat's first
    ``count`` words)."""
    words = [w for data, count, _ in beats for w in data[:count]]
    blob = np.array(words, f"<u{WORD_BYTES}").tobytes()
    try:
        golden_zvc.expand(blob, word_width=WORD_WIDTH, block_words=BLOCK_WORDS)
    except golden_zvc.ZvcError as exc:
        return STATUS[type(exc)]
    return STATUS[None]


def malformed_beats(rng):
    """(name, beats, status) of streams whose beats break the format; the status is the
    expander's documented one (docs/zvc.md, "Malformed beats")."""
    full = beats_of(good_stream(rng, partial_final=False), WORD_WIDTH, BEAT_WORDS)
    partial = beats_of(good_stream(rng, partial_final=True), WORD_WIDTH, BEAT_WORDS)
    long = beats_of(compress(random_words(rng, 2 * BLOCK_WORDS, 0.7, WORD_WIDTH)),
                    WORD_WIDTH, BEAT_WORDS)
    data, count, _ = full[-1]
    p_data, p_count, _ = partial[-1]
    junk = [1] * BEAT_WORDS                 # a non-zero word past the stream's end
    truncated = STATUS[golden_zvc.ZvcTruncatedError]
    # Counts a well-formed stream has, but wrong for this one: the golden view of the
    # bytes they carry gives the status (truncated, trailing).
    too_small = full[:-1] + [(data, count - 1, True)]
    too_big = partial[:-1] + [(p_data[:p_count] + junk[p_count:], p_count + 1, True)]
    cases = [("final count too small", too_small, golden_status(too_small)),
             ("final count too big", too_big, golden_status(too_big))]
    assert [status for _, _, status in cases] == [
        truncated, STATUS[golden_zvc.ZvcTrailingDataError]]
    # Counts no beat can have: the stream's words are not whole, hence truncated.
    cases += [
        ("final count 0", full[:-1] + [(data, 0, True)], truncated),
        ("short beat without last",
         long[:2] + [(long[2][0], BEAT_WORDS - 1, False)] + long[3:], truncated),
        ("last on a middle beat", long[:3] + [(long[3][0], BEAT_WORDS, True)], truncated),
    ]
    if COUNT_ABOVE_BEAT:
        cases.append(("final count above beat_words",
                      full[:-1] + [(data, BEAT_WORDS + 1, True)], truncated))
    return cases


@cocotb.test()
@cocotb.parametrize(out_stall=[0.0, 0.4])
async def test_malformed(dut, out_stall):
    """Each malformed stream sets the golden model's error (or, for a malformed beat, the
    documented one); the next stream still decodes."""
    tb, rng = await make_tb(dut, 5 + int(10 * out_stall))
    cases = []
    for name, bad in malformed(rng):
        words, status = tb.model(bad)
        assert words is None and status != 0, name
        cases.append((name, bad, status))
    for name, bad, status in cases + malformed_beats(rng):
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
    """Cycle counts with no back-pressure: N output words on N consecutive cycles.

    Per stream (densities 0, 50, 87.5, 100 % and one random, whole and partial final
    block) the count from the first input beat to the last output word is exactly
    ``N + START_LATENCY``, and the N words leave back to back.
    """
    tb, rng = await make_tb(dut, 7)
    results = []
    for n in (64 * BLOCK_WORDS, 16 * BLOCK_WORDS + BLOCK_WORDS // 2 + 3):
        for density in (0.0, 0.5, 0.875, 1.0, float(rng.random())):
            words = random_words(rng, n, density, WORD_WIDTH)
            stats = await run_good(tb, [words], settle=0)
            cycles = stats["last_out"] - stats["first_in"] + 1
            emitting = stats["last_out"] - stats["first_out"] + 1
            dut._log.info(f"n {n} density {density:.3f}: {stats['in_beats']} beats in, "
                          f"{n} words out in {emitting} cycles, {cycles} from the first "
                          f"beat (N + {cycles - n})")
            assert emitting == n, f"{n} words took {emitting} cycles"
            assert cycles == n + START_LATENCY, f"{cycles} != {n} + {START_LATENCY}"
            results.append({
                "density": density, "out_words": n, "in_words": stats["in_words"],
                "in_beats": stats["in_beats"],
                "emit_cycles": emitting, "cycles": cycles,
                "out_words_per_cycle": n / emitting,
                "out_words_per_cycle_end_to_end": n / cycles})
    save_throughput(results)


@cocotb.test()
async def test_back_to_back(dut):
    """Streams back to back keep one raw word per cycle: the next stream's header and first
    mask are parsed while the previous stream's final block is still being emitted.

    With ``i.valid`` and ``o.ready`` held high and every final block at least
    ``START_LATENCY`` words long, k streams of N_1 … N_k words take exactly
    ``sum(N) + START_LATENCY`` cycles from the first beat to the last word, and the words
    leave on ``sum(N)`` consecutive cycles (no idle cycle between streams).
    """
    tb, rng = await make_tb(dut, 8)
    w = BLOCK_WORDS
    lengths = [4 * w, 2 * w + START_LATENCY, w, 3 * w + w // 2 + START_LATENCY, 8 * w]
    jobs = [random_words(rng, n, float(d), WORD_WIDTH)
            for n, d in zip(lengths, (0.0, 1.0, 0.5, float(rng.random()), 0.875))]
    stats = await run_good(tb, jobs, settle=0)
    total = sum(lengths)
    cycles = stats["last_out"] - stats["first_in"] + 1
    emitting = stats["last_out"] - stats["first_out"] + 1
    dut._log.info(f"{len(jobs)} streams, {total} words out in {emitting} cycles, {cycles} "
                  f"from the first beat")
    assert emitting == total, f"{total} words took {emitting} cycles (idle between streams)"
    assert cycles == total + START_LATENCY
