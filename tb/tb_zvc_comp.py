"""cocotb tests of the ZVC compressor (flat top of hw.zvc.ZvcCompressor) against golden.

Configuration from the environment (tests/test_zvc_sim.py sets it): ZVC_WORD_WIDTH,
ZVC_BLOCK_WORDS, ZVC_BEAT_WORDS, SEED; ZVC_THROUGHPUT_JSON, if set, receives the measured
cycle counts.
"""


import cocotb
import numpy as np

from tb.zvc_tb import (ZvcCompressorTB, config_from_env, random_pauses, random_words,
                       save_throughput)

WORD_WIDTH, BLOCK_WORDS, BEAT_WORDS, SEED = config_from_env()
MASK_WORDS = BLOCK_WORDS // WORD_WIDTH
HEADER_WORDS = 64 // WORD_WIDTH
#: Cycles from the ``length`` transfer to the last of N input words (both counted), minus
#: N: the words are taken on the N cycles right after the descriptor, at any density.
INPUT_LATENCY = 1


def drain_cycles(words):
    """Cycles from the last input transfer to the final output beat, less the output
    gearbox's 0 or 1 cycle of backlog.

    The emitter is one server: the header (one word per cycle) from the cycle after the
    descriptor, then each block once its last word is in (the cycle after), for
    ``M + ceil(nnz/2)`` cycles (mask words one per cycle, values two per cycle); the
    final beat leaves the cycle after the emitter's last group.
    """
    n = len(words)
    finish = 1 + HEADER_WORDS               # counted from the descriptor's cycle
    for start in range(0, n, BLOCK_WORDS):
        block = words[start:start + BLOCK_WORDS]
        available = start + len(block) + 1
        finish = max(finish, available) + MASK_WORDS + -(-int((block != 0).sum()) // 2)
    return finish - n


async def make_tb(dut, salt):
    tb = ZvcCompressorTB(dut, WORD_WIDTH, BLOCK_WORDS, BEAT_WORDS)
    await tb.reset()
    rng = np.random.default_rng([SEED, salt])
    dut._log.info(f"word_width {WORD_WIDTH} block_words {BLOCK_WORDS} beat_words "
                  f"{BEAT_WORDS} seed {SEED} (replay with SEED={SEED})")
    return tb, rng


def check(tb, jobs, outputs):
    assert len(outputs) == len(jobs)
    for k, (words, got) in enumerate(zip(jobs, outputs)):
        expect = tb.model(words)
        assert got == expect, f"job {k} ({len(words)} words): {got.hex()} != {expect.hex()}"


@cocotb.test()
async def test_edge_cases(dut):
    """Empty, single words, all-zero, all-non-zero and partial final blocks."""
    tb, rng = await make_tb(dut, 1)
    w = BLOCK_WORDS
    jobs = [random_words(rng, n, d, WORD_WIDTH) for n, d in [
        (0, 0), (1, 0), (1, 1), (w, 0), (w, 1), (3 * w, 0), (3 * w, 1),
        (w - 1, 1), (w + 1, 1), (2 * w + 5, 0), (w + 3, 0.5), (0, 0)]]
    outputs, _ = await tb.run(jobs)
    check(tb, jobs, outputs)


@cocotb.test()
@cocotb.parametrize(in_idle=[0.0, 0.3], out_stall=[0.0, 0.5])
async def test_random_densities(dut, in_idle, out_stall):
    """Densities 0 % to 100 %, random lengths, back-pressure on both sides, back to back."""
    tb, rng = await make_tb(dut, 2 + int(10 * in_idle) + int(100 * out_stall))
    jobs = [random_words(rng, int(rng.integers(1, 3 * BLOCK_WORDS)), d, WORD_WIDTH)
            for d in np.linspace(0, 1, 11)]
    outputs, _ = await tb.run(jobs, in_pause=random_pauses(rng, in_idle),
                              out_pause=random_pauses(rng, out_stall))
    check(tb, jobs, outputs)


@cocotb.test()
async def test_reset_mid_stream(dut):
    """A reset in the middle of a job drops it; the next jobs compress correctly."""
    tb, rng = await make_tb(dut, 3)
    for abort in (3, BLOCK_WORDS // 2, 2 * BLOCK_WORDS + 1):
        partial = [random_words(rng, 4 * BLOCK_WORDS, 0.6, WORD_WIDTH)]
        outputs, _ = await tb.run(partial, abort_after=abort,
                                  out_pause=random_pauses(rng, 0.3))
        assert outputs == []
        await tb.reset()
        jobs = [random_words(rng, 2 * BLOCK_WORDS + 3, 0.5, WORD_WIDTH)]
        outputs, _ = await tb.run(jobs, in_pause=random_pauses(rng, 0.2))
        check(tb, jobs, outputs)


@cocotb.test()
async def test_throughput(dut):
    """Cycle counts with no back-pressure: N input words in N cycles at any density.

    Per stream (densities 0, 50, 87.5, 100 % and one random, whole and partial final
    block): the words are taken on exactly the N cycles after the ``length`` transfer
    (``INPUT_LATENCY``), and the final beat leaves ``drain_cycles`` (+ at most 1) after
    the last word.
    """
    tb, rng = await make_tb(dut, 4)
    results = []
    for n in (64 * BLOCK_WORDS, 16 * BLOCK_WORDS + BLOCK_WORDS // 2 + 3):
        for density in (0.0, 0.5, 0.875, 1.0, float(rng.random())):
            words = random_words(rng, n, density, WORD_WIDTH)
            outputs, stats = await tb.run([words])
            check(tb, [words], outputs)
            accept = stats["last_in"] - stats["length_at"] + 1
            drain = stats["last_out"] - stats["last_in"]
            model = drain_cycles(words)
            dut._log.info(f"n {n} density {density:.3f}: descriptor and {n} words "
                          f"taken in {accept} cycles, {stats['out_words']} words in "
                          f"{stats['out_beats']} beats, drain {drain} (model {model})")
            assert stats["first_in"] == stats["length_at"] + 1, stats
            assert accept == n + INPUT_LATENCY, f"{accept} cycles for {n} words"
            assert model <= drain <= model + 1, f"drain {drain}, model {model}"
            cycles = stats["last_out"] - stats["first_in"] + 1
            results.append({
                "density": density, "in_words": n, "out_words": stats["out_words"],
                "out_beats": stats["out_beats"],
                "input_cycles": stats["last_in"] - stats["first_in"] + 1,
                "cycles": cycles, "drain_cycles": drain,
                "in_words_per_cycle": n / (stats["last_in"] - stats["first_in"] + 1),
                "in_words_per_cycle_end_to_end": n / cycles})
    save_throughput(results)


@cocotb.test()
async def test_back_to_back(dut):
    """Jobs back to back: the next job's length is taken the cycle after the previous job's
    last word, while that job still drains, so k jobs of N_1 … N_k words occupy the raw
    port for exactly ``sum(N) + k - 1`` cycles from the first word to the last (one
    length cycle between jobs, no drain idling), at 0, 50 and 100 % density and a random
    one, with jobs of 2W words and a partial final block."""
    tb, rng = await make_tb(dut, 9)
    w = BLOCK_WORDS
    lengths = [2 * w, 2 * w, 2 * w, w + w // 2 + 3, 2 * w, 3]
    jobs = [random_words(rng, n, d, WORD_WIDTH)
            for n, d in zip(lengths, (0.0, 0.5, 1.0, float(rng.random()), 1.0, 0.5))]
    outputs, stats = await tb.run(jobs)
    check(tb, jobs, outputs)
    span = stats["last_in"] - stats["first_in"] + 1
    dut._log.info(f"{len(jobs)} jobs, {sum(lengths)} words: raw port busy {span} cycles")
    assert span == sum(lengths) + len(jobs) - 1, f"{span} cycles"
