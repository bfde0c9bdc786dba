"""cocotb testbench class of the AXI GEMM engine (``hw.axi_top.AxiGemmTop``).

Bus models are cocotbext-axi's (``AxiLiteMaster``, ``AxiStreamSource``, ``AxiStreamSink``)
with pause generators on every channel; :class:`ProtocolChecker` watches every AXI
interface of the DUT for the handshake rules.
"""

import itertools
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge
from cocotbext.axi import (AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamFrame,
                           AxiStreamSink, AxiStreamSource)

__all__ = ["AxiGemmTB", "ProtocolChecker", "pause"]


def pause(rng, probability):
    """A pause generator: True (pause) with ``probability`` each cycle."""
    while True:
        yield rng.random() < probability


class ProtocolChecker:
    """Checks the valid/ready rules of named channels on every rising edge.

    A channel is ``(valid, ready, payload signals)``. Rules: once ``valid`` is high it stays
    high until the transfer; the payload does not change while a transfer is pending.
    ``pairs`` are ``(request channels, response channel)``: no response without an earlier
    request (counts of completed transfers).
    """

    def __init__(self, dut, channels, pairs=()):
        self.dut = dut
        self.channels = channels
        self.pairs = pairs
        self.errors = []
        self.transfers = {name: 0 for name in channels}
        self.checked = 0
        cocotb.start_soon(self._run())

    async def _run(self):
        previous = {}
        while True:
            await RisingEdge(self.dut.clk)
            await ReadOnly()
            if int(self.dut.rst.value):
                previous = {}
                continue
            for name, (valid, ready, payload) in self.channels.items():
                v, r = int(valid.value), int(ready.value)
                values = tuple(str(p.value) for p in payload)
                before = previous.get(name)
                if before is not None and before[0] and not before[1]:
                    self.checked += 1
                    if not v:
                        self.errors.append(f"{name}: valid dropped before ready")
                    elif values != before[2]:
                        self.errors.append(f"{name}: payload changed while stalled")
                previous[name] = (v, r, values)
            # transfers happen at this edge when valid & ready were high before it;
            # sample the sampled values of this cycle for the next edge.
            for name, (v, r, _) in previous.items():
                if v and r:
                    self.transfers[name] += 1
            for requests, response in self.pairs:
                if self.transfers[response] > min(self.transfers[q] for q in requests):
                    self.errors.append(f"{response}: a response without a request")

    def check(self):
        assert not self.errors, "protocol violations: " + "; ".join(self.errors[:5])


class AxiGemmTB:
    """Clock, reset, cocotbext-axi masters / sink with pause generators, protocol checker."""

    def __init__(self, dut, *, seed, pause_probability=0.3):
        self.dut = dut
        self.rng = random.Random(seed)
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
        self.a = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis_a"), dut.clk, dut.rst)
        self.b = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis_b"), dut.clk, dut.rst)
        self.d = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis_d"), dut.clk, dut.rst)
        p = pause_probability
        for channel in (self.axil.write_if.aw_channel, self.axil.write_if.w_channel,
                        self.axil.write_if.b_channel, self.axil.read_if.ar_channel,
                        self.axil.read_if.r_channel, self.a, self.b, self.d):
            channel.set_pause_generator(pause(self.rng, p))
        ax = "s_axil_"

        def sig(name):
            return getattr(dut, name)

        channels = {
            "aw": (sig(ax + "awvalid"), sig(ax + "awready"), [sig(ax + "awaddr")]),
            "w": (sig(ax + "wvalid"), sig(ax + "wready"), [sig(ax + "wdata"), sig(ax + "wstrb")]),
            "b": (sig(ax + "bvalid"), sig(ax + "bready"), [sig(ax + "bresp")]),
            "ar": (sig(ax + "arvalid"), sig(ax + "arready"), [sig(ax + "araddr")]),
            "r": (sig(ax + "rvalid"), sig(ax + "rready"), [sig(ax + "rdata"), sig(ax + "rresp")]),
        }
        for bus in ("s_axis_a", "s_axis_b", "m_axis_d"):
            channels[bus] = (sig(bus + "_tvalid"), sig(bus + "_tready"),
                             [sig(bus + "_tdata"), sig(bus + "_tkeep"), sig(bus + "_tlast")])
        self.checker = ProtocolChecker(dut, channels, pairs=[(("aw", "w"), "b"), (("ar",), "r")])

    async def reset(self, cycles=4):
        self.dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    async def write(self, word, value):
        """Write register ``word``; returns the response code (0 OKAY, 2 SLVERR)."""
        resp = await self.axil.write(4 * word, int(value).to_bytes(4, "little"))
        return int(resp.resp)

    async def read(self, word):
        """Read register ``word``; returns ``(value, resp)``."""
        resp = await self.axil.read(4 * word, 4)
        return int.from_bytes(resp.data, "little"), int(resp.resp)

    async def cycles(self, n):
        for _ in range(n):
            await RisingEdge(self.dut.clk)
