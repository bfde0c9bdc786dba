"""cocotb testbench of the flat GEMM engine: runs the jobs of a file, writes a results file.

Driven by :mod:`tb.gemm_driver` (``GEMM_JOBS``, ``GEMM_RESULTS``, ``GEMM_PARAMS`` in the
environment). Per job: clear status and counters, load the A and B words through the
``ld_a``/``ld_b`` streams (one word per cycle), program the descriptor, START, take the D
tiles (``d_ready`` from a seeded pattern) until ``done``, read STATUS and every counter.

Speed: with ``d_ready`` held high the testbench does not wake up every cycle: it sleeps
until ``d_valid`` rises and samples clock by clock only while D is valid, so the simulator
free-runs through the K loop of each output tile; it stops after the tile marked
``d_last``. A watchdog task fails the run if a job outlives its cycle budget.
"""

import json
import os
import random
import time

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, First, ReadOnly, RisingEdge, Timer

from hw.gemm import COUNTERS, CSR_READ_LATENCY, Ctrl, Reg, Status

PERIOD_NS = 10


class GemmTB:
    """Clock, reset, register access, loads and D collection for one flat engine."""

    def __init__(self, dut):
        self.dut = dut
        self.params = json.loads(os.environ["GEMM_PARAMS"])

    async def reset(self):
        dut = self.dut
        Clock(dut.clk, PERIOD_NS, unit="ns").start()
        for name in ("csr_we", "csr_re", "csr_addr", "csr_wdata", "ld_a_valid", "ld_b_valid",
                     "d_ready"):
            getattr(dut, name).value = 0
        dut.rst.value = 1
        for _ in range(3):
            await RisingEdge(dut.clk)
        dut.rst.value = 0
        await RisingEdge(dut.clk)

    async def write(self, addr, value):
        dut = self.dut
        dut.csr_addr.value = int(addr)
        dut.csr_wdata.value = int(value) & 0xFFFFFFFF
        dut.csr_we.value = 1
        await RisingEdge(dut.clk)
        dut.csr_we.value = 0

    async def read(self, addr):
        """One register read: ``csr_re`` for a cycle, ``csr_rdata`` CSR_READ_LATENCY later."""
        dut = self.dut
        dut.csr_addr.value = int(addr)
        dut.csr_re.value = 1
        await RisingEdge(dut.clk)
        dut.csr_re.value = 0
        for _ in range(CSR_READ_LATENCY - 1):
            await RisingEdge(dut.clk)
        await ReadOnly()
        value = dut.csr_rdata.value.to_unsigned()
        await RisingEdge(dut.clk)
        return value

    async def read64(self, addr):
        lo = await self.read(addr)
        hi = await self.read(addr + 1)
        return lo | hi << 32

    async def load(self, prefix, base, fields):
        """Write words through the ``ld_<prefix>`` stream, one per cycle while ``ready``."""
        dut = self.dut
        count = fields[0][1].shape[0]
        valid = getattr(dut, f"ld_{prefix}_valid")
        ready = getattr(dut, f"ld_{prefix}_ready")
        addr = getattr(dut, f"ld_{prefix}_addr")
        handles = [(getattr(dut, port), words) for port, words in fields]
        for i in range(count):
            addr.value = base + i
            for handle, words in handles:
                handle.value = int.from_bytes(words[i].tobytes(), "little")
            valid.value = 1
            while True:
                await ReadOnly()
                taken = bool(ready.value)
                await RisingEdge(dut.clk)
                if taken:
                    break
        valid.value = 0

    def _beat(self, beats, errors, lasts, nbytes):
        dut = self.dut
        beats.append(dut.d_data.value.to_unsigned().to_bytes(nbytes, "little"))
        errors.append(int(dut.d_error.value))
        lasts.append(int(dut.d_last.value))

    async def _watchdog(self, timeout):
        await Timer(timeout * PERIOD_NS, unit="ns")
        raise AssertionError(f"job did not finish within {timeout} cycles")

    async def collect(self, ready_prob, seed, timeout):
        """Take D tiles until ``done``; returns (beats, errors, lasts, cycles)."""
        dut = self.dut
        beats, errors, lasts = [], [], []
        nbytes = (len(dut.d_data) + 7) // 8
        start = get_sim_time("ns")
        watchdog = cocotb.start_soon(self._watchdog(timeout))
        if ready_prob >= 1.0:
            # Fast path: sleep until d_valid (or done) rises, sample clock by clock while
            # d_valid is high, stop after the tile marked d_last (or at done for a rejected
            # job).
            dut.d_ready.value = 1
            await ReadOnly()
            while True:
                if dut.d_valid.value:
                    self._beat(beats, errors, lasts, nbytes)
                    if lasts[-1]:
                        break
                    await RisingEdge(dut.clk)
                elif dut.done.value:          # a rejected job: done without D
                    break
                else:
                    await First(RisingEdge(dut.d_valid), RisingEdge(dut.done))
                await ReadOnly()
            await RisingEdge(dut.clk)
            await ReadOnly()
            assert dut.done.value, "done did not follow the last D tile"
        else:
            rnd = random.Random(seed)
            dut.d_ready.value = int(rnd.random() < ready_prob)
            while True:
                await ReadOnly()
                if dut.done.value:
                    break
                if dut.d_valid.value and dut.d_ready.value:
                    self._beat(beats, errors, lasts, nbytes)
                await RisingEdge(dut.clk)
                dut.d_ready.value = int(rnd.random() < ready_prob)
        watchdog.cancel()
        cycles = round((get_sim_time("ns") - start) / PERIOD_NS)
        await RisingEdge(dut.clk)
        dut.d_ready.value = 0
        return beats, errors, lasts, cycles

    async def run_job(self, job):
        a_load, b_load, mode, mt, nt, kt, a_base, b_base, seed, timeout = \
            (int(x) for x in job["scalars"])
        await self.write(Reg.CTRL, Ctrl.CLEAR | Ctrl.CLEAR_COUNTERS)
        a_fields = [("ld_a_values", job["a_values"])]
        if self.params["sparse_core"]:
            a_fields.append(("ld_a_meta", job["a_meta"]))
        if job["a_values"].shape[0]:
            await self.load("a", a_load, a_fields)
        if job["b_data"].shape[0]:
            await self.load("b", b_load, [("ld_b_data", job["b_data"])])
        for reg, value in ((Reg.MODE, mode), (Reg.M_TILES, mt), (Reg.N_TILES, nt),
                           (Reg.K_TILES, kt), (Reg.A_BASE, a_base), (Reg.B_BASE, b_base)):
            await self.write(reg, value)
        wall = time.perf_counter()
        await self.write(Reg.CTRL, Ctrl.START)
        beats, errors, lasts, cycles = await self.collect(float(job["ready"][0]), seed, timeout)
        wall = time.perf_counter() - wall
        status = await self.read(Reg.STATUS)
        counters = [await self.read64(reg) for _, reg in COUNTERS]
        nbytes = (len(self.dut.d_data) + 7) // 8
        data = np.frombuffer(b"".join(beats), dtype=np.uint8).reshape(len(beats), nbytes)
        return {
            "d_data": data,
            "d_error": np.array(errors, dtype=np.uint8),
            "d_last": np.array(lasts, dtype=np.uint8),
            "scalars": np.array([status, (status >> 8) & 0xFF, cycles, *counters],
                                dtype=np.uint64).astype(np.int64),
            "wall": np.array([wall]),
        }


    async def wait_queue_free(self, poll):
        """Poll STATUS until no job waits in the engine's queue (then START is taken)."""
        while await self.read(Reg.STATUS) & Status.QUEUED:
            await ClockCycles(self.dut.clk, poll)

    async def collect_jobs(self, count):
        """Take D tiles (``d_ready`` high) until ``count`` tiles marked ``d_last``; returns
        one (beats, errors, lasts) per job."""
        dut = self.dut
        nbytes = (len(dut.d_data) + 7) // 8
        jobs, beats, errors, lasts = [], [], [], []
        dut.d_ready.value = 1
        await ReadOnly()
        while len(jobs) < count:
            if dut.d_valid.value:
                self._beat(beats, errors, lasts, nbytes)
                if lasts[-1]:
                    jobs.append((beats, errors, lasts))
                    beats, errors, lasts = [], [], []
                    if len(jobs) == count:
                        break
                await RisingEdge(dut.clk)
            else:
                await RisingEdge(dut.d_valid)
            await ReadOnly()
        await RisingEdge(dut.clk)
        return jobs

    async def run_batch(self, jobs, poll):
        """Back-to-back jobs, loads overlapping the running job: job ``i`` is loaded (A and
        B at once) as soon as job ``i - 1`` has left the queue (so job ``i - 2``, which used
        the same buffer region, has read its last word), then programmed and started; D is
        taken all along. Counters cover the whole batch: one clear before the first load,
        CYCLES read first after the last job's ``done``."""
        dut = self.dut
        await self.write(Reg.CTRL, Ctrl.CLEAR | Ctrl.CLEAR_COUNTERS)
        timeout = sum(int(job["scalars"][9]) for job in jobs)
        watchdog = cocotb.start_soon(self._watchdog(timeout))
        collector = cocotb.start_soon(self.collect_jobs(len(jobs)))
        start = None
        wall = time.perf_counter()
        for index, job in enumerate(jobs):
            a_load, b_load, mode, mt, nt, kt, a_base, b_base, _, _ = \
                (int(x) for x in job["scalars"])
            if index:
                await self.wait_queue_free(poll)
            a_fields = [("ld_a_values", job["a_values"])]
            if self.params["sparse_core"]:
                a_fields.append(("ld_a_meta", job["a_meta"]))
            load_a = cocotb.start_soon(self.load("a", a_load, a_fields))
            await self.load("b", b_load, [("ld_b_data", job["b_data"])])
            await load_a
            for reg, value in ((Reg.MODE, mode), (Reg.M_TILES, mt), (Reg.N_TILES, nt),
                               (Reg.K_TILES, kt), (Reg.A_BASE, a_base),
                               (Reg.B_BASE, b_base)):
                await self.write(reg, value)
            if index:
                await self.wait_queue_free(poll)
            if start is None:
                start = get_sim_time("ns")
            await self.write(Reg.CTRL, Ctrl.START)
        per_job = await collector
        while True:
            await ReadOnly()
            if dut.done.value:
                break
            await RisingEdge(dut.clk)
        await RisingEdge(dut.clk)
        cycles = round((get_sim_time("ns") - start) / PERIOD_NS)
        wall = time.perf_counter() - wall
        watchdog.cancel()
        dut.d_ready.value = 0
        counters = [await self.read64(reg) for _, reg in COUNTERS]   # CYCLES first
        status = await self.read(Reg.STATUS)
        nbytes = (len(dut.d_data) + 7) // 8
        out = {"batch_scalars": np.array([status, (status >> 8) & 0xFF, cycles, *counters],
                                         dtype=np.uint64).astype(np.int64),
               "batch_wall": np.array([wall])}
        for index, (beats, errors, lasts) in enumerate(per_job):
            out[f"j{index}_d_data"] = np.frombuffer(b"".join(beats), dtype=np.uint8).reshape(
                len(beats), nbytes)
            out[f"j{index}_d_error"] = np.array(errors, dtype=np.uint8)
            out[f"j{index}_d_last"] = np.array(lasts, dtype=np.uint8)
        return out


@cocotb.test()
async def run_jobs(dut):
    """Run every job of ``GEMM_JOBS`` and save the results to ``GEMM_RESULTS``."""
    tb = GemmTB(dut)
    await tb.reset()
    out = {}
    with np.load(os.environ["GEMM_JOBS"]) as jobs:
        count = int(jobs["count"][0])
        loaded = [{key[len(f"j{i}_"):]: jobs[key] for key in jobs.files
                   if key.startswith(f"j{i}_")} for i in range(count)]
        batch = int(jobs["batch"][0]) if "batch" in jobs.files else 0
    if batch:
        out = await tb.run_batch(loaded, poll=batch)
    else:
        for i, job in enumerate(loaded):
            result = await tb.run_job(job)
            for key, value in result.items():
                out[f"j{i}_{key}"] = value
    np.savez(os.environ["GEMM_RESULTS"], **out)
