"""cocotb tests of the ZVC compressor (flat top of hw.zvc.ZvcCompressor) against golden.

Configuration from the environment (tests/test_zvc_sim.py sets it): ZVC_WORD_WIDTH,
ZVC_BLOCK_WORDS, SEED; ZVC_THROUGHPUT_JSON, if set, receives the measured cycle counts.
"""


import cocotb
import numpy as np

from tb.zvc_tb import (ZvcCompressorTB, config_from_env, random_pauses, random_words,
                       save_throughput, throughput_record)

WORD_WIDTH, BLOCK_WORDS, SEED = config_from_env()
MASK_WORDS = BLOCK_WORDS // WORD_WIDTH
HEADER_WORDS = 64 // WORD_WIDTH


def ideal_cycles(words):
    """Cycles from the first input to the last output transfer of an engine with no bubbles.

    The input takes one word per cycle; a block's mask can leave only after its last word
    came in, so the final block's mask and values follow the last input (store and
    forward, one block deep). The output takes one word per cycle: the header, then from
    the end of block 0 on every mask and value.
    """
    n = len(words)
    last = words[(max(n - 1, 0) // BLOCK_WORDS) * BLOCK_WORDS:]
    out = HEADER_WORDS + -(-n // BLOCK_WORDS) * MASK_WORDS + int((words != 0).sum())
    input_bound = n + MASK_WORDS + int((last != 0).sum())
    output_bound = min(n, BLOCK_WORDS) + out - HEADER_WORDS
    return max(input_bound, output_bound)


async def make_tb(dut, salt):
    tb = ZvcCompressorTB(dut, WORD_WIDTH, BLOCK_WORDS)
    await tb.reset()
    rng = np.random.default_rng([SEED, salt])
    dut._log.info(f"word_width {WORD_WIDTH} block_words {BLOCK_WORDS} seed {SEED} "
                  f"(replay with SEED={SEED})")
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
    """Cycle counts: the engine runs at the rate of its busier port, one word per cycle."""
    tb, rng = await make_tb(dut, 4)
    n = 64 * BLOCK_WORDS
    results = []
    for density in (0.0, 0.25, 0.5, 0.75, 1.0):
        words = random_words(rng, n, density, WORD_WIDTH)
        outputs, stats = await tb.run([words])
        check(tb, [words], outputs)
        results.append(throughput_record(dut._log, density, words, stats,
                                         ideal_cycles(words), "in"))
    save_throughput(results)
