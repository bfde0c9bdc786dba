"""AXI wrapper blocks in the Amaranth simulator: constructor checks, the AXI4-Lite slave, the
stream loader and the D streamer (``hw/axi_lite.py``, ``hw/axi_stream.py``, ``hw/axi.py``)."""

import pathlib
import re

import numpy as np
import pytest

from hw.axi import AxiGemmEngine
from hw.axi_lite import AxiLiteSlave
from hw.axi_regs import ALL_REGISTERS, AXI_REGISTERS
from hw.axi_stream import AxisLoader, AxisResultStreamer
from hw.config import ConfigError, CoreConfig
from hw.regmap import Access
from hw.testing import quiet_unused, simulate

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"


# --- constructors ---------------------------------------------------------------------------

def test_init_wrong_beat_bytes():
    with quiet_unused(), pytest.raises(ConfigError,
                                       match=r"^beat_bytes must be one of 4, 8, 16, 32, not 3$"):
        AxiGemmEngine(CoreConfig(), a_depth=16, b_depth=16, beat_bytes=3)


def test_init_wrong_acc_width():
    with quiet_unused(), pytest.raises(
            ConfigError, match=r"^results leave as int32: acc_width must be at most 32, not 48$"):
        AxiGemmEngine(CoreConfig(n=4, m=8, a_width=16, b_width=16, acc_width=48),
                      a_depth=16, b_depth=16)


def test_init_wrong_zvc_width():
    with quiet_unused(), pytest.raises(
            ConfigError, match=r"^zvc needs b_width of 8, 16 or 32 .* not 4$"):
        AxiGemmEngine(CoreConfig(n=1, m=2, a_width=4, b_width=4, acc_width=16),
                      a_depth=16, b_depth=16)
    with quiet_unused():    # the same core without the expander is accepted
        dut = AxiGemmEngine(CoreConfig(n=1, m=2, a_width=4, b_width=4, acc_width=16),
                            a_depth=16, b_depth=16, zvc=False)
        assert not dut.zvc
        del dut


def test_init_wrong_slave():
    with pytest.raises(ValueError, match=r"^read_latency must be an integer of at least 1, "
                                         r"not 0$"):
        AxiLiteSlave(ALL_REGISTERS, read_latency=0)
    with pytest.raises(TypeError, match=r"^registers must be a RegisterMap"):
        AxiLiteSlave([], read_latency=1)


def test_init_wrong_loader():
    with pytest.raises(ValueError, match=r"^depth must be at most 65536, not 70000$"):
        AxisLoader(80, beat_bytes=8, depth=70000)
    with pytest.raises(ValueError, match=r"^word_bits must be a positive integer, not 0$"):
        AxisLoader(0, beat_bytes=8, depth=16)


def test_docs_register_table():
    """docs/axi.md carries the generator's table of the wrapper's registers, verbatim."""
    table = AXI_REGISTERS.markdown("x").split("\n", 2)[2]
    assert table in (DOCS / "axi.md").read_text(), "regenerate docs/axi.md §5"
    assert table in (DOCS / "registers.md").read_text()


def test_register_ranges():
    assert all(0x40 <= reg.addr <= 0x7F for reg in AXI_REGISTERS)


# --- AXI4-Lite slave --------------------------------------------------------------------------

LATENCY = 2


def run_axil(accesses, *, rng):
    """Run ``accesses`` ((kind, word, value, strb)) through an AxiLiteSlave over a plain
    register store with ``LATENCY``-cycle reads; returns the responses and error pulses."""
    dut = AxiLiteSlave(ALL_REGISTERS, read_latency=LATENCY)
    store = {}
    results = []
    pulses = []

    async def regfile(ctx):
        pipe = [0] * LATENCY
        async for _, _, we, re_, addr, wdata, *errs in ctx.tick().sample(
                dut.csr_we, dut.csr_re, dut.csr_addr, dut.csr_wdata, dut.err_hole,
                dut.err_ro, dut.err_strb, dut.err_value):
            if we:
                store[addr] = wdata
            pipe = pipe[1:] + [store.get(addr, 0) if re_ else 0]
            ctx.set(dut.csr_rdata, pipe[-LATENCY] if LATENCY > 1 else pipe[-1])
            if any(errs):
                pulses.append(tuple(int(e) for e in errs))

    async def master(ctx):
        bus = dut.bus
        for kind, word, value, strb in accesses:
            if kind == "w":
                ctx.set(bus.awaddr, 4 * word)
                ctx.set(bus.wdata, value)
                ctx.set(bus.wstrb, strb)
                # AW and W offered independently, each after 0-2 idle cycles.
                delay = {"aw": int(rng.integers(0, 3)), "w": int(rng.integers(0, 3))}
                valid = {"aw": bus.awvalid, "w": bus.wvalid}
                done = {"aw": False, "w": False}
                while not all(done.values()):
                    for ch in valid:
                        if not done[ch] and delay[ch] == 0:
                            ctx.set(valid[ch], 1)
                        delay[ch] -= 1
                    _, _, awr, wr, awv, wv = await ctx.tick().sample(
                        bus.awready, bus.wready, bus.awvalid, bus.wvalid)
                    for ch, taken in (("aw", awr and awv), ("w", wr and wv)):
                        if taken and not done[ch]:
                            done[ch] = True
                            ctx.set(valid[ch], 0)
                ctx.set(bus.bready, 1)
                while True:
                    _, _, bv, resp = await ctx.tick().sample(bus.bvalid, bus.bresp)
                    if bv:
                        break
                ctx.set(bus.bready, 0)
                results.append(("w", word, int(resp)))
            else:
                ctx.set(bus.araddr, 4 * word)
                ctx.set(bus.arvalid, 1)
                await ctx.tick().until(bus.arready)
                ctx.set(bus.arvalid, 0)
                for _ in range(int(rng.integers(0, 3))):   # R back-pressure
                    await ctx.tick()
                ctx.set(bus.rready, 1)
                while True:
                    _, _, rv, data, resp = await ctx.tick().sample(bus.rvalid, bus.rdata,
                                                                   bus.rresp)
                    if rv:
                        break
                ctx.set(bus.rready, 0)
                results.append(("r", word, int(resp), int(data)))

    sim, _ = simulate(dut, master, background=[regfile])
    sim.run()
    return results, pulses, store


def test_sim_axil_responses(rng):
    """OKAY / SLVERR per register class, decided from the map (expected values from the map's
    own description: Access and field masks), and reads return what was written."""
    rw = [r for r in ALL_REGISTERS if r.access is Access.RW]
    ro = [r for r in ALL_REGISTERS if r.access is Access.RO]
    holes = [a for a in range(256) if ALL_REGISTERS.at(a) is None]
    accesses, expected = [], []
    for reg in rng.permutation(rw)[:8]:
        value = int(rng.integers(0, 1 << 32)) & reg.mask
        accesses += [("w", reg.addr, value, 0xF), ("r", reg.addr, 0, 0)]
        expected += [("w", reg.addr, 0), ("r", reg.addr, 0, value)]
    reg = rw[0]
    bad_value = (~reg.mask) & 0xFFFFFFFF
    accesses += [("w", ro[0].addr, 1, 0xF), ("w", int(holes[3]), 1, 0xF),
                 ("r", int(holes[5]), 0, 0), ("w", reg.addr, 1, 0b0011),
                 ("w", reg.addr, bad_value, 0xF), ("r", reg.addr, 0, 0)]
    last_value = expected[[e[1] for e in expected].index(reg.addr) + 1][3] \
        if reg.addr in [e[1] for e in expected] else 0
    expected += [("w", ro[0].addr, 2), ("w", int(holes[3]), 2), ("r", int(holes[5]), 2, 0),
                 ("w", reg.addr, 2), ("w", reg.addr, 2), ("r", reg.addr, 0, last_value)]
    results, pulses, _ = run_axil(accesses, rng=rng)
    assert results == expected
    # One pulse per SLVERR, by reason: RO, hole (write), hole (read), strobe, value.
    assert pulses == [(0, 1, 0, 0), (1, 0, 0, 0), (1, 0, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1)]


# --- stream loader and D streamer ------------------------------------------------------------

def run_loader(word_bits, beat_bytes, words, beats, *, rng, base=3, depth=64):
    """Arm (base, words) and feed ``beats`` ((bytes, last, keep)); return the writes and the
    error pulses."""
    dut = AxisLoader(word_bits, beat_bytes=beat_bytes, depth=depth)
    writes, errors = [], []

    async def producer(ctx):
        ctx.set(dut.base, base)
        ctx.set(dut.words, words)
        ctx.set(dut.arm, 1)
        await ctx.tick()
        ctx.set(dut.arm, 0)
        for data, last, keep in beats:
            while rng.random() < 0.3:
                await ctx.tick()
            ctx.set(dut.i.payload.data, int.from_bytes(data.ljust(beat_bytes, b"\0"),
                                                       "little"))
            ctx.set(dut.i.payload.keep, keep)
            ctx.set(dut.i.payload.last, last)
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)
        for _ in range(20):
            await ctx.tick()

    async def consumer(ctx):
        while True:
            ready = int(rng.random() < 0.7)
            ctx.set(dut.o.ready, ready)
            _, _, valid, payload, *errs = await ctx.tick().sample(
                dut.o.valid, dut.o.payload, dut.err_short, dut.err_long, dut.err_keep)
            if valid and ready:
                writes.append((int(payload.addr), int(payload.word)))
            for name, e in zip(("short", "long", "keep"), errs):
                if e:
                    errors.append(name)

    sim, _ = simulate(dut, producer, background=[consumer])
    sim.run()
    return writes, errors


def beats_of(blob, beat_bytes):
    out = []
    for i in range(0, len(blob), beat_bytes):
        chunk = blob[i:i + beat_bytes]
        out.append((chunk, int(i + beat_bytes >= len(blob)), (1 << len(chunk)) - 1))
    return out


@pytest.mark.parametrize("word_bits,beat_bytes", [(80, 8), (320, 8), (512, 32), (80, 32),
                                                  (24, 4), (512, 1)])
def test_sim_loader(rng, word_bits, beat_bytes):
    wb = -(-word_bits // 8)
    words = int(rng.integers(1, 7))
    values = [int.from_bytes(rng.bytes(wb), "little") & ((1 << word_bits) - 1)
              for _ in range(words)]
    blob = b"".join(v.to_bytes(wb, "little") for v in values)
    writes, errors = run_loader(word_bits, beat_bytes, words, beats_of(blob, beat_bytes),
                                rng=rng)
    assert errors == []
    assert writes == [(3 + i, v) for i, v in enumerate(values)]


def test_sim_loader_errors(rng):
    blob = rng.bytes(3 * 10)
    _, errors = run_loader(80, 8, 3, beats_of(blob[:-4], 8), rng=rng)
    assert errors == ["short"]
    _, errors = run_loader(80, 8, 3, beats_of(blob + blob[:8], 8), rng=rng)
    assert errors == ["long"]
    beats = beats_of(blob, 8)
    beats[1] = (beats[1][0], 0, 0b11110111)
    _, errors = run_loader(80, 8, 3, beats, rng=rng)
    assert errors == ["keep"]


@pytest.mark.parametrize("tile_bytes,beat_bytes", [(64, 8), (16, 8), (16, 32), (12, 8)])
def test_sim_streamer(rng, tile_bytes, beat_bytes):
    dut = AxisResultStreamer(tile_bytes, beat_bytes=beat_bytes)
    jobs = [[rng.bytes(tile_bytes) for _ in range(int(rng.integers(1, 5)))] for _ in range(3)]
    frames, current = [], []

    async def producer(ctx):
        for tiles in jobs:
            for i, tile in enumerate(tiles):
                while rng.random() < 0.3:
                    await ctx.tick()
                ctx.set(dut.i.payload.data, int.from_bytes(tile, "little"))
                ctx.set(dut.i.payload.last, int(i == len(tiles) - 1))
                ctx.set(dut.i.valid, 1)
                await ctx.tick().until(dut.i.ready)
                ctx.set(dut.i.valid, 0)
        for _ in range(40):
            await ctx.tick()

    async def consumer(ctx):
        while True:
            ready = int(rng.random() < 0.7)
            ctx.set(dut.o.ready, ready)
            _, _, valid, beat = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            if valid and ready:
                keep = int(beat.keep)
                n = bin(keep).count("1")
                assert keep == (1 << n) - 1 and (n == beat_bytes or beat.last)
                current.append(int(beat.data).to_bytes(beat_bytes, "little")[:n])
                if beat.last:
                    frames.append(b"".join(current))
                    current.clear()

    sim, _ = simulate(dut, producer, background=[consumer])
    sim.run()
    assert frames == [b"".join(tiles) for tiles in jobs]
