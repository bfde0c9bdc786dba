"""cocotb tests of the AXI GEMM engine: GEMMs and bad traffic from a JSON plan.

The plan (``AXI_PLAN``: a JSON file written by ``tests/test_axi_sim.py``) lists steps; each
``gemm`` step carries its register values, the A and B streams (hex), for a tile-wise job
its kept-block table entries (``tw``), and the expected D stream (hex, from NumPy); each ``bad`` step names a fault, the stream(s) to send and the
expected ``BUS_CAUSE`` / ``ZVC_STATUS`` / responses. Results are written to ``AXI_RESULT``.
"""

import json
import os

import cocotb
from cocotb.triggers import First, RisingEdge, Timer, with_timeout
from cocotbext.axi import AxiStreamFrame

from hw.axi_regs import ALL_REGISTERS as R
from hw.gemm import Ctrl
from tb.axi_tb import AxiGemmTB

CTRL = R["CTRL"].addr
STATUS = R["STATUS"].addr


async def load(tb, which, base, words, stream, *, zvc=False, keep=None):
    """Program and arm one descriptor, then send its stream (``keep``: a tkeep list)."""
    upper = which.upper()
    assert await tb.write(R[f"{upper}_LOAD_BASE"].addr, base) == 0
    assert await tb.write(R[f"{upper}_LOAD_WORDS"].addr, words) == 0
    if which == "b":
        assert await tb.write(R["B_LOAD_MODE"].addr, int(zvc)) == 0
    assert await tb.write(R["LOAD_CTRL"].addr, 1 if which == "a" else 2) == 0
    frame = AxiStreamFrame(bytes(stream), tkeep=keep)
    source = getattr(tb, which)
    await source.send(frame)
    await source.wait()


async def wait_loaded(tb, mask, timeout=20000):
    for _ in range(timeout):
        value, _ = await tb.read(R["LOAD_STATUS"].addr)
        if value & mask == mask and not value & 0b11:
            return value
    raise AssertionError(f"loads not done: LOAD_STATUS={value:#x}")


async def wait_done(tb, timeout=200000):
    for _ in range(timeout // 10):
        value, resp = await tb.read(STATUS)
        assert resp == 0
        if value & 0b10:
            return value
        await tb.cycles(10)
    raise AssertionError("engine never reported done")


async def load_table(tb, base, entries):
    """Kept-block table entries through TW_LOAD_ADDR / TW_LOAD_ENTRY (one write each)."""
    assert await tb.write(R["TW_LOAD_ADDR"].addr, base) == 0
    for block, last in entries:
        assert await tb.write(R["TW_LOAD_ENTRY"].addr, block | last << 16) == 0
    value, _ = await tb.read(R["TW_LOAD_ADDR"].addr)
    assert value == base + len(entries), f"TW_LOAD_ADDR {value} after {len(entries)} entries"


async def run_gemm(tb, step, log):
    tw = step.get("tw")
    if tw is not None:
        await load_table(tb, tw["base"], tw["entries"])
    await load(tb, "a", step["a_load"], step["a_words"], bytes.fromhex(step["a_stream"]))
    await load(tb, "b", step["b_load"], step["b_words"], bytes.fromhex(step["b_stream"]),
               zvc=step["zvc"])
    await wait_loaded(tb, 0b1100)
    for name, value in zip(("MODE", "M_TILES", "N_TILES", "K_TILES", "A_BASE", "B_BASE"),
                           step["regs"]):
        assert await tb.write(R[name].addr, value) == 0
    if tw is not None:
        for name, value in (("TW_CTRL", 1), ("TW_GROUP", tw["group_tiles"]),
                            ("TW_BASE", tw["base"])):
            assert await tb.write(R[name].addr, value) == 0
    assert await tb.write(CTRL, Ctrl.START) == 0
    frame = await with_timeout(tb.d.recv(compact=False), 2_000_000, "ns")
    status = await wait_done(tb)
    expect = bytes.fromhex(step["d_stream"])
    got = bytes(frame.tdata)
    keep = list(frame.tkeep)
    assert status >> 8 == 0, f"engine cause {status >> 8:#x}"
    assert all(keep[:len(expect)]) and len(got) >= len(expect), "D tkeep"
    assert got[:len(expect)] == expect, f"D differs ({step['name']})"
    if tw is not None:
        assert await tb.write(R["TW_CTRL"].addr, 0) == 0
        log["tw_jobs"] += 1
    log["gemms"] += 1
    log["d_bytes"] += len(expect)


async def bad(tb, step, log):
    fault = step["fault"]
    if fault in ("hole_read", "hole_write", "ro_write", "strb_write", "value_write"):
        addr = step["addr"]
        if fault == "hole_read":
            value, resp = await tb.read(addr)
            assert (value, resp) == (0, 2)
        elif fault == "strb_write":
            resp = await tb.axil.write(4 * addr, b"\x01\x00")   # two bytes: WSTRB 0b0011
            assert int(resp.resp) == 2
        else:
            assert await tb.write(addr, step["value"]) == 2
    elif fault == "t_range":
        assert await tb.write(R["TW_LOAD_ADDR"].addr, step["addr"]) == 0
        assert await tb.write(R["TW_LOAD_ENTRY"].addr, step["value"]) == 0
    elif fault == "range":
        upper = step["which"].upper()
        assert await tb.write(R[f"{upper}_LOAD_BASE"].addr, step["base"]) == 0
        assert await tb.write(R[f"{upper}_LOAD_WORDS"].addr, step["words"]) == 0
        assert await tb.write(R["LOAD_CTRL"].addr, 1 if step["which"] == "a" else 2) == 0
    else:   # a stream fault
        keep = step.get("keep")
        await load(tb, step["which"], 0, step["words"], bytes.fromhex(step["stream"]),
                   zvc=step.get("zvc", False), keep=keep)
    for _ in range(2000):
        cause, _ = await tb.read(R["BUS_CAUSE"].addr)
        if cause:
            break
    assert cause == step["cause"], f"{step['name']}: BUS_CAUSE {cause:#x}, " \
                                   f"expected {step['cause']:#x}"
    zvc, _ = await tb.read(R["ZVC_STATUS"].addr)
    assert zvc == step.get("zvc_code", 0), f"{step['name']}: ZVC_STATUS {zvc}"
    pending, _ = await tb.read(R["IRQ_PENDING"].addr)
    assert pending & 0b10, "error not pending"
    assert int(tb.dut.irq.value) == 1, "irq not raised for an enabled error"
    assert await tb.write(R["BUS_CAUSE"].addr, cause) == 0
    assert await tb.write(R["IRQ_PENDING"].addr, 0b11) == 0
    await tb.cycles(3)
    assert int(tb.dut.irq.value) == 0, "irq still high after W1C"
    status, _ = await tb.read(R["LOAD_STATUS"].addr)
    assert status & 0b11 == 0, f"{step['name']}: a descriptor still armed"
    log["bad"] += 1


@cocotb.test()
async def run_plan(dut):
    plan = json.loads(open(os.environ["AXI_PLAN"]).read())
    tb = AxiGemmTB(dut, seed=plan["seed"], pause_probability=plan["pause"])
    await tb.reset()
    log = {"gemms": 0, "tw_jobs": 0, "bad": 0, "d_bytes": 0}
    assert await tb.write(R["IRQ_ENABLE"].addr, 0b11) == 0
    info, _ = await tb.read(R["BUS_WORDS"].addr)
    assert info == plan["bus_words"], f"BUS_WORDS {info:#x}"
    for step in plan["steps"]:
        if step["kind"] == "gemm":
            await run_gemm(tb, step, log)
            pending, _ = await tb.read(R["IRQ_PENDING"].addr)
            assert pending & 1, "done not pending"
            assert await tb.write(R["IRQ_PENDING"].addr, 1) == 0
        else:
            await bad(tb, step, log)
    await tb.cycles(5)
    tb.checker.check()
    log["handshakes_checked"] = tb.checker.checked
    log["transfers"] = tb.checker.transfers
    with open(os.environ["AXI_RESULT"], "w") as f:
        json.dump(log, f)
