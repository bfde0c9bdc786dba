"""cocotb testbench of the flat GEMM engine for tile-wise (TW/TVW) and plain jobs.

Driven by :mod:`tb.tilewise_driver` with the same job-file protocol as :mod:`tb.tb_gemm`
(``GEMM_JOBS``, ``GEMM_RESULTS``, ``GEMM_PARAMS``), whose :class:`~tb.tb_gemm.GemmTB` it
extends: a job may also carry a kept-block table (``t_block``, ``t_last`` loaded from
``t_load`` through ``ld_t``) and the tile-wise registers (``tw``: enable, TW_GROUP,
TW_BASE). The table is loaded after A and B, before the descriptor, so the ``cycles``
counter counts every load. After the job it also reads TW_ERR and TW_ERR_AT.
"""

import os
import time

import numpy as np

import cocotb
from cocotb.simtime import get_sim_time
from cocotb.triggers import First, ReadOnly, RisingEdge

from hw.gemm import COUNTERS, Ctrl, Reg
from hw.gemm_regs import ENGINE_REGISTERS

from .tb_gemm import PERIOD_NS, GemmTB

TW = {name: ENGINE_REGISTERS[name].addr for name in
      ("TW_CTRL", "TW_GROUP", "TW_BASE", "TW_ERR", "TW_ERR_AT")}


class TilewiseTB(GemmTB):
    """:class:`GemmTB` plus the kept-block table and the tile-wise registers."""

    async def reset(self):
        self.dut.ld_t_valid.value = 0
        await super().reset()

    async def load_table(self, base, blocks, lasts):
        dut = self.dut
        for i, (block, last) in enumerate(zip(blocks.tolist(), lasts.tolist())):
            dut.ld_t_addr.value = base + i
            dut.ld_t_block.value = int(block) & 0xFFFF
            dut.ld_t_last.value = int(last)
            dut.ld_t_valid.value = 1
            while True:
                await ReadOnly()
                taken = bool(dut.ld_t_ready.value)
                await RisingEdge(dut.clk)
                if taken:
                    break
        dut.ld_t_valid.value = 0

    async def collect(self, ready_prob, seed, timeout):
        """As :meth:`GemmTB.collect`, but a tile-wise job rejected after its table scan
        (``done`` rises later than the cycle after START, with no D) ends the wait too."""
        dut = self.dut
        if ready_prob < 1.0:
            return await super().collect(ready_prob, seed, timeout)
        beats, errors, lasts = [], [], []
        nbytes = (len(dut.d_data) + 7) // 8
        start = get_sim_time("ns")
        watchdog = cocotb.start_soon(self._watchdog(timeout))
        dut.d_ready.value = 1
        await ReadOnly()
        while not dut.done.value:
            if dut.d_valid.value:
                self._beat(beats, errors, lasts, nbytes)
                if lasts[-1]:
                    await RisingEdge(dut.clk)
                    await ReadOnly()
                    assert dut.done.value, "done did not follow the last D tile"
                    break
                await RisingEdge(dut.clk)
            else:
                await First(RisingEdge(dut.d_valid), RisingEdge(dut.done))
            await ReadOnly()
        watchdog.cancel()
        cycles = round((get_sim_time("ns") - start) / PERIOD_NS)
        await RisingEdge(dut.clk)
        dut.d_ready.value = 0
        return beats, errors, lasts, cycles

    async def run_job(self, job):
        a_load, b_load, mode, mt, nt, kt, a_base, b_base, seed, timeout = \
            (int(x) for x in job["scalars"])
        tw = [int(x) for x in job["tw"]] if "tw" in job else [0, 0, 0, 0]
        enable, group_tiles, t_base, t_load = tw
        await self.write(Reg.CTRL, Ctrl.CLEAR | Ctrl.CLEAR_COUNTERS)
        a_fields = [("ld_a_values", job["a_values"])]
        if self.params["sparse_core"]:
            a_fields.append(("ld_a_meta", job["a_meta"]))
        if job["a_values"].shape[0]:
            await self.load("a", a_load, a_fields)
        if job["b_data"].shape[0]:
            await self.load("b", b_load, [("ld_b_data", job["b_data"])])
        if "t_block" in job and job["t_block"].shape[0]:
            await self.load_table(t_load, job["t_block"], job["t_last"])
        for reg, value in ((Reg.MODE, mode), (Reg.M_TILES, mt), (Reg.N_TILES, nt),
                           (Reg.K_TILES, kt), (Reg.A_BASE, a_base), (Reg.B_BASE, b_base),
                           (TW["TW_CTRL"], enable), (TW["TW_GROUP"], group_tiles),
                           (TW["TW_BASE"], t_base)):
            await self.write(reg, value)
        wall = time.perf_counter()
        await self.write(Reg.CTRL, Ctrl.START)
        beats, errors, lasts, cycles = await self.collect(float(job["ready"][0]), seed, timeout)
        wall = time.perf_counter() - wall
        status = await self.read(Reg.STATUS)
        counters = [await self.read64(reg) for _, reg in COUNTERS]
        tw_err = await self.read(TW["TW_ERR"])
        tw_err_at = await self.read(TW["TW_ERR_AT"])
        nbytes = (len(self.dut.d_data) + 7) // 8
        data = np.frombuffer(b"".join(beats), dtype=np.uint8).reshape(len(beats), nbytes)
        return {
            "d_data": data,
            "d_error": np.array(errors, dtype=np.uint8),
            "d_last": np.array(lasts, dtype=np.uint8),
            "scalars": np.array([status, (status >> 8) & 0xFF, cycles, *counters],
                                dtype=np.uint64).astype(np.int64),
            "tw_result": np.array([tw_err, tw_err_at & 0xFFFF, tw_err_at >> 16],
                                  dtype=np.int64),
            "wall": np.array([wall]),
        }


    async def run_batch(self, jobs, poll):
        """:meth:`GemmTB.run_batch` with each job's kept-block table loaded beside its A and
        B (after the job before it left the queue) and its tile-wise registers written."""
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
            enable, group_tiles, t_base, t_load = \
                [int(x) for x in job["tw"]] if "tw" in job else [0, 0, 0, 0]
            if index:
                await self.wait_queue_free(poll)
            a_fields = [("ld_a_values", job["a_values"])]
            if self.params["sparse_core"]:
                a_fields.append(("ld_a_meta", job["a_meta"]))
            load_a = cocotb.start_soon(self.load("a", a_load, a_fields))
            load_t = None
            if "t_block" in job and job["t_block"].shape[0]:
                load_t = cocotb.start_soon(self.load_table(t_load, job["t_block"],
                                                           job["t_last"]))
            await self.load("b", b_load, [("ld_b_data", job["b_data"])])
            await load_a
            if load_t is not None:
                await load_t
            for reg, value in ((Reg.MODE, mode), (Reg.M_TILES, mt), (Reg.N_TILES, nt),
                               (Reg.K_TILES, kt), (Reg.A_BASE, a_base), (Reg.B_BASE, b_base),
                               (TW["TW_CTRL"], enable), (TW["TW_GROUP"], group_tiles),
                               (TW["TW_BASE"], t_base)):
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
        tw_err = await self.read(TW["TW_ERR"])
        tw_err_at = await self.read(TW["TW_ERR_AT"])
        nbytes = (len(dut.d_data) + 7) // 8
        out = {"batch_scalars": np.array([status, (status >> 8) & 0xFF, cycles, *counters],
                                         dtype=np.uint64).astype(np.int64),
               "batch_wall": np.array([wall]),
               "batch_tw_result": np.array([tw_err, tw_err_at & 0xFFFF, tw_err_at >> 16],
                                           dtype=np.int64)}
        for index, (beats, errors, lasts) in enumerate(per_job):
            out[f"j{index}_d_data"] = np.frombuffer(b"".join(beats), dtype=np.uint8).reshape(
                len(beats), nbytes)
            out[f"j{index}_d_error"] = np.array(errors, dtype=np.uint8)
            out[f"j{index}_d_last"] = np.array(lasts, dtype=np.uint8)
        return out


@cocotb.test()
async def run_jobs(dut):
    """Run every job of ``GEMM_JOBS`` and save the results to ``GEMM_RESULTS``."""
    tb = TilewiseTB(dut)
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
