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

__all__ = ["config_from_env", "random_pauses", "random_words", "words_of", "beats_of",
           "save_throughput", "ZvcCompressorTB", "ZvcExpanderTB", "STATUS"]

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
    """``(word_width, block_words, beat_words, seed)`` from ZVC_WORD_WIDTH,
    ZVC_BLOCK_WORDS, ZVC_BEAT_WORDS, SEED."""
    return (int(os.environ.get("ZVC_WORD_WIDTH", "8")),
            int(os.environ.get("ZVC_BLOCK_WORDS", "32")),
            int(os.environ.get("ZVC_BEAT_WORDS", "2")),
            int(os.environ.get("SEED", "1"), 0))


def random_pauses(rng, probability):
    """Pause generator: True (pause) with ``probability`` each cycle; never for 0."""
    if probability == 0:
        return itertools.repeat(False)
    return (bool(rng.random() < probability) for _ in itertools.count())


def save_throughput(results):
    """Write the throughput records to ``ZVC_THROUGHPUT_JSON`` when it is set."""
    if os.environ.get("ZVC_THROUGHPUT_JSON"):
        with open(os.environ["ZVC_THROUGHPUT_JSON"], "w") as f:
            json.dump(results, f, indent=1)


def beats_of(blob, word_width, beat_words):
    """The compressed-port beats of a byte string: ``(words, count, last)``, every beat
    full but the final one, which carries the rest and ``last``."""
    words = [int(w) for w in words_of(blob, word_width)]
    beats = []
    for start in range(0, len(words), beat_words):
        chunk = words[start:start + beat_words]
        beats.append((chunk + [0] * (beat_words - len(chunk)), len(chunk),
                      start + beat_words >= len(words)))
    return beats


def pack_words(words, word_width):
    """A beat's words as the flat ``*_data`` port value (word 0 in the low bits)."""
    return sum(int(w) << (k * word_width) for k, w in enumerate(words))


def unpack_words(value, word_width, beat_words):
    return [(value >> (k * word_width)) & ((1 << word_width) - 1)
            for k in range(beat_words)]


def random_words(rng, n, density, word_width):
    words = rng.integers(1, 1 << word_width, n, dtype=np.uint64)
    return np.where(rng.random(n) < density, words, 0).astype(DTYPES[word_width])


def words_of(blob, word_width):
    """The little-endian words of a byte string (the hardware's view of it)."""
    return np.frombuffer(bytes(blob), np.dtype(DTYPES[word_width]).newbyteorder("<"))


class _TB:
    def __init__(self, dut, word_width, block_words, beat_words):
        self.dut = dut
        self.word_width = word_width
        self.block_words = block_words
        self.beat_words = beat_words
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

    def _check_beat(self, count, last):
        """Beat format: full beats, the final one with ``last`` and 1..beat_words words."""
        if last:
            assert 1 <= count <= self.beat_words, f"final beat with count {count}"
        else:
            assert count == self.beat_words, f"beat without last has count {count}"

    async def run(self, jobs, *, in_pause=None, out_pause=None, max_cycles=None,
                  abort_after=None):
        """Compress each array of ``jobs`` in turn; return ``(outputs, stats)``.

        ``outputs`` holds one byte string per finished job (the kept words of its beats,
        in order). ``stats`` has the cycle numbers ``length_at`` (last ``length``
        transfer), ``first_in``, ``last_in`` and ``last_out`` (first/last transfers on
        ``i`` and ``o``), and ``in_words``, ``out_words``, ``out_beats``. Every beat is
        checked against the beat format. ``abort_after`` stops after that many cycles
        (to reset mid-stream).
        """
        dut = self.dut
        in_pause = in_pause or itertools.repeat(False)
        out_pause = out_pause or itertools.repeat(False)
        max_cycles = max_cycles or 64 * (sum(len(j) for j in jobs) + 64 * len(jobs)) + 1000
        outputs, current = [], []
        job, pos, told = 0, 0, False
        stats = {"length_at": None, "first_in": None, "last_in": None, "last_out": None,
                 "in_words": 0, "out_words": 0, "out_beats": 0}
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
                stats["length_at"] = self.cycle
            if fired.get("i"):
                stats["first_in"] = stats["first_in"] or self.cycle
                stats["last_in"] = self.cycle
                stats["in_words"] += 1
                pos += 1
            if fired.get("o"):
                count, last = fired["o_count"], fired["o_last"]
                self._check_beat(count, last)
                stats["out_beats"] += 1
                stats["out_words"] += count
                stats["last_out"] = self.cycle
                current += unpack_words(fired["o_data"], self.word_width,
                                        self.beat_words)[:count]
                if last:
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
                "o_data": int(dut.o_data.value), "o_count": int(dut.o_count.value),
                "o_last": int(dut.o_last.value),
            }
        await self.step()
        self.idle_inputs()
        return outputs, stats


class ZvcExpanderTB(_TB):
    """Drives ``i_*``, monitors ``o_*`` and ``error``; model: ``golden.zvc.expand``."""

    def idle_inputs(self):
        self.dut.i_valid.value = 0
        self.dut.i_data.value = 0
        self.dut.i_count.value = 0
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
        """Feed each stream of ``streams`` in turn: a byte string (cut into beats by
        :func:`beats_of`) or a list of beats ``(words, count, last)`` as they are.

        Runs until every beat is taken and ``expect_words`` words came out, then
        ``settle`` more cycles (to let a flagged error show). Returns ``(beats, stats)``:
        ``beats`` the ``(word, last)`` pairs of ``o``; ``stats`` the cycle numbers
        ``first_in``, ``first_out``, ``last_out``, the counts ``in_beats``,
        ``in_words`` (the beats' counts), ``out_words``, and ``error``.
        """
        dut = self.dut
        in_pause = in_pause or itertools.repeat(False)
        out_pause = out_pause or itertools.repeat(False)
        beats_in = [b for s in streams
                    for b in (beats_of(s, self.word_width, self.beat_words)
                              if isinstance(s, (bytes, bytearray)) else s)]
        max_cycles = 64 * (len(beats_in) * self.beat_words + expect_words) + 2000
        beats, pos = [], 0
        stats = {"first_in": None, "first_out": None, "last_out": None, "in_beats": 0,
                 "in_words": 0, "out_words": 0}
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
                f"expander stalled: {pos} of {len(beats_in)} beats in, {len(beats)} of "
                f"{expect_words} words out")
            if fired.get("i"):
                stats["first_in"] = stats["first_in"] or self.cycle
                stats["in_beats"] += 1
                stats["in_words"] += beats_in[pos][1]
                pos += 1
            if fired.get("o"):
                stats["first_out"] = stats["first_out"] or self.cycle
                stats["out_words"] += 1
                stats["last_out"] = self.cycle
                beats.append((fired["o_data"], fired["o_last"]))
            offer = pos < len(beats_in) and not next(in_pause)
            words, count, last = beats_in[pos] if pos < len(beats_in) else ([], 0, False)
            dut.i_valid.value = int(offer)
            dut.i_data.value = pack_words(words, self.word_width)
            dut.i_count.value = count
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
