"""cocotb testbench classes for the ZVC engines (flat-port tops of ``hw/zvc.py``).

Each class owns the clock, reset, a driver of the input stream(s), a monitor of the
output stream and the golden model; ``run`` pushes whole streams through the DUT and
returns what came out, plus the cycle counts the throughput test asserts on. The loop
is cycle-based: inputs change just after a rising edge, and ``valid``/``ready`` are read
in the ReadOnly phase of the same cycle, so a transfer is exactly "both high at the edge".
Idle and back-pressure come from pause generators (iterators of booleans, True = pause),
in the style of cocotbext-axi's ``itertools.cycle([1, 1, 1, 0])``.
"""

import itertools
import json
import os

import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from golden import zvc as golden_zvc

__all__ = ["config_from_env", "random_pauses", "random_words", "words_of",
           "ZvcCompressorTB", "ZvcExpanderTB", "STATUS"]

DTYPES = {8: np.uint8, 16: np.uint16, 32: np.uint32}

#: hw.zvc.ZvcStatus codes by golden exception class (tb/ does not import hw/).
STATUS = {
    None: 0,
    golden_zvc.ZvcHeaderError: 1,
    golden_zvc.ZvcWordWidthError: 2,
    golden_zvc.ZvcMaskError: 3,
    golden_zvc.ZvcTruncatedError: 4,
    golden_zvc.ZvcTrailingDataError: 5,
}


def config_from_env():
    """``(word_width, block_words, seed)`` from ZVC_WORD_WIDTH, ZVC_BLOCK_WORDS, SEED."""
    return (int(os.environ.get("ZVC_WORD_WIDTH", "8")),
            int(os.environ.get("ZVC_BLOCK_WORDS", "32")),
            int(os.environ.get("SEED", "1"), 0))


def random_pauses(rng, probability):
    """Pause generator: True (pause) with ``probability`` each cycle; never for 0."""
    if probability == 0:
        return itertools.repeat(False)
    return (bool(rng.random() < probability) for _ in itertools.count())


#: Cycles of pipeline latency the throughput tests allow on top of the ideal count.
THROUGHPUT_SLACK = 2


def throughput_record(log, density, words, stats, ideal, port):
    """Check one throughput run and describe it.

    ``stats`` holds the run's ``first_in``/``last_out`` cycles and word counts; the run may
    take at most ``ideal + THROUGHPUT_SLACK`` cycles. ``port`` (``"in"`` or ``"out"``) is the
    port whose words per cycle the record reports.
    """
    cycles = stats["last_out"] - stats["first_in"] + 1
    rate = stats[f"{port}_words"] / cycles
    log.info(f"density {density:.2f}: {stats['in_words']} words in, {stats['out_words']} "
             f"out, {cycles} cycles, {rate:.3f} {port}put words/cycle")
    assert cycles <= ideal + THROUGHPUT_SLACK, \
        f"{cycles} cycles > {ideal + THROUGHPUT_SLACK}"
    return {"density": density, "in_words": stats["in_words"],
            "out_words": stats["out_words"], "cycles": cycles, "ideal_cycles": ideal,
            f"{port}_words_per_cycle": rate}


def save_throughput(results):
    """Write the throughput records to ``ZVC_THROUGHPUT_JSON`` when it is set."""
    if os.environ.get("ZVC_THROUGHPUT_JSON"):
        with open(os.environ["ZVC_THROUGHPUT_JSON"], "w") as f:
            json.dump(results, f, indent=1)


def random_words(rng, n, density, word_width):
    words = rng.integers(1, 1 << word_width, n, dtype=np.uint64)
    return np.where(rng.random(n) < density, words, 0).astype(DTYPES[word_width])


def words_of(blob, word_width):
    """The little-endian words of a byte string (the hardware's view of it)."""
    return np.frombuffer(bytes(blob), np.dtype(DTYPES[word_width]).newbyteorder("<"))


class _TB:
    def __init__(self, dut, word_width, block_words):
        self.dut = dut
        self.word_width = word_width
        self.block_words = block_words
        self.cycle = 0
        Clock(dut.clk, 10, unit="ns").start()

    async def reset(self, cycles=2):
        self.idle_inputs()
        self.dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0

    async def step(self):
        """Advance one cycle; return after the edge, inputs may then be changed."""
        await RisingEdge(self.dut.clk)
        self.cycle += 1


class ZvcCompressorTB(_TB):
    """Drives ``length_*`` and ``i_*``, monitors ``o_*``; model: ``golden.zvc.compress``."""

    def idle_inputs(self):
        self.dut.length_valid.value = 0
        self.dut.length_data.value = 0
        self.dut.i_valid.value = 0
        self.dut.i_data.value = 0
        self.dut.o_ready.value = 0

    def model(self, words):
        return golden_zvc.compress(words, word_width=self.word_width,
                                   block_words=self.block_words)

    async def run(self, jobs, *, in_pause=None, out_pause=None, max_cycles=None,
                  abort_after=None):
        """Compress each array of ``jobs`` in turn; return ``(outputs, stats)``.

        ``outputs`` holds one byte string per finished job. ``stats`` has ``first_in`` and
        ``last_out`` (cycle numbers of the first input and last output transfers), and the
        words moved. ``abort_after`` stops after that many cycles (to reset mid-stream).
        """
        dut = self.dut
        in_pause = in_pause or itertools.repeat(False)
        out_pause = out_pause or itertools.repeat(False)
        max_cycles = max_cycles or 64 * (sum(len(j) for j in jobs) + 64 * len(jobs)) + 1000
        outputs, current = [], []
        job, pos, told = 0, 0, False
        stats = {"first_in": None, "last_out": None, "in_words": 0, "out_words": 0}
        start = self.cycle
        fired = {}
        while len(outputs) < len(jobs):
            await self.step()
            if abort_after is not None and self.cycle - start >= abort_after:
                break
            assert self.cycle - start < max_cycles, "compressor stalled"
            # Transfers that happened at this edge.
            if fired.get("length"):
                told = True
            if fired.get("i"):
                stats["first_in"] = stats["first_in"] or self.cycle
                stats["in_words"] += 1
                pos += 1
            if fired.get("o"):
                stats["out_words"] += 1
                stats["last_out"] = self.cycle
                current.append(fired["o_data"])
                if fired["o_last"]:
                    outputs.append(np.array(current, DTYPES[self.word_width])
                                   .astype(f"<u{self.word_width // 8}").tobytes())
                    current = []
            if told and pos == len(jobs[job]) and job + 1 < len(jobs):
                job, pos, told = job + 1, 0, False
            # Drive the next cycle.
            words = jobs[job] if job < len(jobs) else []
            dut.length_valid.value = int(not told and job < len(jobs))
            dut.length_data.value = len(words)
            offer = told and pos < len(words) and not next(in_pause)
            dut.i_valid.value = int(offer)
            dut.i_data.value = int(words[pos]) if pos < len(words) else 0
            dut.o_ready.value = int(not next(out_pause))
            await ReadOnly()
            fired = {
                "length": dut.length_valid.value and dut.length_ready.value,
                "i": dut.i_valid.value and dut.i_ready.value,
                "o": dut.o_valid.value and dut.o_ready.value,
                "o_data": int(dut.o_data.value), "o_last": int(dut.o_last.value),
            }
        await self.step()
        self.idle_inputs()
        return outputs, stats


class ZvcExpanderTB(_TB):
    """Drives ``i_*``, monitors ``o_*`` and ``error``; model: ``golden.zvc.expand``."""

    def idle_inputs(self):
        self.dut.i_valid.value = 0
        self.dut.i_data.value = 0
        self.dut.i_last.value = 0
        self.dut.o_ready.value = 0

    def model(self, blob):
        """``(words, status)``: the golden expansion, or ``(None, code)`` on an error."""
        try:
            words = golden_zvc.expand(blob, word_width=self.word_width,
                                      block_words=self.block_words)
        except golden_zvc.ZvcError as exc:
            return None, STATUS[type(exc)]
        return words, STATUS[None]

    async def run(self, streams, *, expect_words, in_pause=None, out_pause=None,
                  abort_after=None, settle=None):
        """Feed each byte string of ``streams`` (``last`` on its final word) in turn.

        Runs until every input word is taken and ``expect_words`` words came out, then
        ``settle`` more cycles (to let a flagged error show). Returns ``(beats, stats)``:
        ``beats`` the ``(word, last)`` pairs of ``o``, ``stats`` as the compressor's plus
        ``error``.
        """
        dut = self.dut
        in_pause = in_pause or itertools.repeat(False)
        out_pause = out_pause or itertools.repeat(False)
        beats_in = [(int(w), i == len(words_of(s, self.word_width)) - 1)
                    for s in streams for i, w in enumerate(words_of(s, self.word_width))]
        max_cycles = 64 * (len(beats_in) + expect_words) + 2000
        beats, pos = [], 0
        stats = {"first_in": None, "last_out": None, "in_words": 0, "out_words": 0}
        start = self.cycle
        fired = {}
        settle = 4 * self.block_words if settle is None else settle
        while pos < len(beats_in) or len(beats) < expect_words or settle > 0:
            if pos == len(beats_in) and len(beats) >= expect_words:
                settle -= 1
            await self.step()
            if abort_after is not None and self.cycle - start >= abort_after:
                break
            assert self.cycle - start < max_cycles, (
                f"expander stalled: {pos} of {len(beats_in)} words in, {len(beats)} of "
                f"{expect_words} out")
            if fired.get("i"):
                stats["first_in"] = stats["first_in"] or self.cycle
                stats["in_words"] += 1
                pos += 1
            if fired.get("o"):
                stats["out_words"] += 1
                stats["last_out"] = self.cycle
                beats.append((fired["o_data"], fired["o_last"]))
            offer = pos < len(beats_in) and not next(in_pause)
            word, last = beats_in[pos] if pos < len(beats_in) else (0, False)
            dut.i_valid.value = int(offer)
            dut.i_data.value = word
            dut.i_last.value = int(last)
            dut.o_ready.value = int(not next(out_pause))
            await ReadOnly()
            fired = {
                "i": dut.i_valid.value and dut.i_ready.value,
                "o": dut.o_valid.value and dut.o_ready.value,
                "o_data": int(dut.o_data.value), "o_last": int(dut.o_last.value),
            }
        stats["error"] = int(dut.error.value)
        await self.step()
        self.idle_inputs()
        return beats, stats
