"""Amaranth-simulator helpers for the stream ports of ``hw/`` blocks (used by tests/).

Follows the stream rules: a producer raises ``valid`` without waiting for ``ready`` and holds
the payload until the transfer; idle gaps and back-pressure come from caller-supplied
iterables of booleans (``itertools.cycle([1, 1, 0])`` style).
"""

import contextlib
import gc
import itertools
import warnings

from amaranth.hdl import ClockDomain, Module, UnusedElaboratable
from amaranth.sim import Simulator

__all__ = ["simulate", "stream_put", "stream_get", "always", "quiet_unused"]


def simulate(dut, *benches, background=()):
    """A simulator of ``dut`` in an explicit ``sync`` domain (1 MHz clock), with ``benches``
    (and ``background`` benches) added; benches can drive the domain's reset, and a
    combinational ``dut`` still gets a clock. Returns ``(simulator, clock_domain)``."""
    top = Module()
    cd = top.domains.sync = ClockDomain("sync")
    top.submodules.dut = dut
    sim = Simulator(top)
    sim.add_clock(1e-6)
    for bench in benches:
        sim.add_testbench(bench)
    for bench in background:
        sim.add_testbench(bench, background=True)
    return sim, cd


def always():
    """A pause pattern that never pauses."""
    return itertools.repeat(True)


async def stream_put(ctx, stream, payload, *, pattern=None):
    """Offer ``payload`` on ``stream`` and wait for the transfer.

    Before raising ``valid``, idles one cycle for every false value ``pattern`` yields.
    Returns after the clock edge on which the transfer happened, with ``valid`` low again.
    """
    if pattern is not None:
        while not next(pattern):
            await ctx.tick()
    ctx.set(stream.payload, payload)
    ctx.set(stream.valid, 1)
    await ctx.tick().until(stream.ready)
    ctx.set(stream.valid, 0)


async def stream_get(ctx, stream, *, pattern=None):
    """Take one payload from ``stream``; ``ready`` is high in the cycles ``pattern`` allows.

    Returns the payload sampled on the edge of the transfer, with ``ready`` low again.
    """
    pattern = always() if pattern is None else pattern
    while True:
        ready = bool(next(pattern))
        ctx.set(stream.ready, ready)
        _, _, valid, payload = await ctx.tick().sample(stream.valid, stream.payload)
        if ready and valid:
            ctx.set(stream.ready, 0)
            return payload


@contextlib.contextmanager
def quiet_unused():
    """Silence :class:`UnusedElaboratable` for blocks whose constructor is expected to raise.

    Use as ``with quiet_unused(), pytest.raises(...):``; the half-built object is collected
    before the filter is lifted.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        yield
        gc.collect()
