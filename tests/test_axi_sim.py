"""AXI GEMM engine under Verilator with cocotbext-axi (``tb/tb_axi.py``): bit-exact GEMMs
through AXI4-Lite / AXI4-Stream, dense and ZVC-compressed B, tile-wise (TW, TVW) jobs with
their kept-block table written over AXI4-Lite, random shapes and back-pressure
on every channel, and every bad-traffic case with its error cause followed by a clean job."""

import json
import os
import time

import numpy as np
import pytest

import golden
from golden import zvc
from hw.axi_regs import AXI_REGISTERS, BusCause
from hw.axi_top import axi_module_name, emit_axi
from hw.config import CoreConfig
from hw.gemm import DEFAULT_T_DEPTH
from hw.gemm_regs import ENGINE_REGISTERS
from hw.zvc import ZvcStatus
from tb.gemm_driver import plan_gemm
from tb.tilewise_driver import plan_tilewise

pytestmark = [pytest.mark.sim, pytest.mark.slow]

#: A small core keeps the Verilator build short; its 80-bit A words (10 bytes) straddle the
#: 8-byte beats, which the default core's 40-byte words never do.
CONFIG = CoreConfig(tile_m=2, tile_n=2, tile_k=8)
DEPTH = 64
BEAT = 8
#: The ZVC expander's FSM emits per-signal cases over only the states that drive them
#: (tb/zvc_run.py); Verilator's CASEINCOMPLETE is waived for these files only.
WAIVERS = '`verilator_config\nlint_off -rule CASEINCOMPLETE -file "*/axi_gemm_*.v"\n'


def build(config=CONFIG, depth=DEPTH, beat_bytes=BEAT):
    from tb.runner import SIM_BUILD
    name = axi_module_name(config, a_depth=depth, b_depth=depth, beat_bytes=beat_bytes)
    folder = SIM_BUILD / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.v"
    text = emit_axi(config, a_depth=depth, b_depth=depth, beat_bytes=beat_bytes, name=name)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    (folder / "axi_waivers.vlt").write_text(WAIVERS)
    return path, name


def a_word_bytes(cfg=CONFIG):
    return -(-(cfg.tile_m * cfg.kept_k * cfg.a_width + cfg.tile_m * cfg.meta_width) // 8)


def random_sparse(rng, M, K, cfg=CONFIG):
    A = rng.integers(-128, 128, (M, K))
    groups = A.reshape(M, K // cfg.m, cfg.m)
    keys = rng.random(groups.shape)
    drop = np.argsort(keys, axis=-1)[..., cfg.n:]
    np.put_along_axis(groups, drop, 0, axis=-1)
    return groups.reshape(M, K)


def d_stream(D, cfg=CONFIG):
    """Expected D bytes: int32 little-endian, tiles in (mi, ni) order, row-major inside."""
    M, N = D.shape
    Mp, Np = -(-M // cfg.tile_m) * cfg.tile_m, -(-N // cfg.tile_n) * cfg.tile_n
    P = np.zeros((Mp, Np), np.int64)
    P[:M, :N] = D
    tiles = P.reshape(Mp // cfg.tile_m, cfg.tile_m, Np // cfg.tile_n, cfg.tile_n)
    return tiles.transpose(0, 2, 1, 3).astype("<i4").tobytes()


def gemm_step(rng, name, *, sparse, use_zvc, relu_density=0.3):
    cfg = CONFIG
    mt, nt, kt = rng.integers(1, 4), rng.integers(1, 4), rng.integers(1, 4)
    M = int(rng.integers((mt - 1) * cfg.tile_m + 1, mt * cfg.tile_m + 1))
    N = int(rng.integers((nt - 1) * cfg.tile_n + 1, nt * cfg.tile_n + 1))
    K = int(kt * cfg.tile_k)
    A = random_sparse(rng, M, K) if sparse else rng.integers(-128, 128, (M, K))
    B = rng.integers(-128, 128, (K, N)) * (rng.random((K, N)) < relu_density)
    job, _ = plan_gemm(B, A, sparse=sparse, config=cfg, a_depth=DEPTH, b_depth=DEPTH)
    a_words = np.concatenate([job["a_values"], job["a_meta"]], axis=1)
    b_bytes = job["b_data"].tobytes()
    # Expected D from plain NumPy (int64 product, wrapped to int32), not from the engine.
    D = (A.astype(np.int64) @ B.astype(np.int64))
    D = ((D + (1 << 31)) % (1 << 32)) - (1 << 31)
    stream = zvc.compress(np.frombuffer(b_bytes, np.uint8), word_width=8, block_words=32) \
        if use_zvc else b_bytes
    return {"kind": "gemm", "name": name, "regs": [int(r) for r in job["regs"]],
            "a_load": 0, "b_load": 0, "a_words": int(a_words.shape[0]),
            "b_words": int(job["b_data"].shape[0]), "a_stream": a_words.tobytes().hex(),
            "b_stream": bytes(stream).hex(), "zvc": use_zvc, "d_stream": d_stream(D).hex()}


def tw_step(rng, name, *, sparse):
    """A tile-wise (TW) or, with ``sparse``, TVW job: random kept lists per group of
    ``tile_m`` rows, the table loaded over AXI4-Lite; expected D = the kept blocks of A
    (the rest zeroed) times B in plain NumPy."""
    cfg = CONFIG
    mt, nt, kt = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(2, 5))
    M, N, K = mt * cfg.tile_m, int(rng.integers(1, nt * cfg.tile_n + 1)), kt * cfg.tile_k
    A = random_sparse(rng, M, K) if sparse else rng.integers(-128, 128, (M, K))
    B = rng.integers(-128, 128, (K, N))
    lists = [sorted(rng.choice(kt, int(rng.integers(1, kt + 1)), replace=False).tolist())
             for _ in range(mt)]
    base = int(rng.integers(0, 8))
    job, _, lists = plan_tilewise(A, B, lists, group=cfg.tile_m, sparse=sparse, config=cfg,
                                  a_depth=DEPTH, b_depth=DEPTH, t_base=base)
    keep = np.zeros((M, K), bool)
    for g, kept in enumerate(lists):
        for b in kept:
            keep[g * cfg.tile_m:(g + 1) * cfg.tile_m, b * cfg.tile_k:(b + 1) * cfg.tile_k] = 1
    D = np.where(keep, A, 0).astype(np.int64) @ B.astype(np.int64)
    a_words = np.concatenate([job["a_values"], job["a_meta"]], axis=1)
    entries = [[int(b), int(last)] for b, last in zip(job["t_block"], job["t_last"])]
    return {"kind": "gemm", "name": name, "regs": [int(r) for r in job["regs"]],
            "a_load": 0, "b_load": 0, "a_words": int(a_words.shape[0]),
            "b_words": int(job["b_data"].shape[0]), "a_stream": a_words.tobytes().hex(),
            "b_stream": job["b_data"].tobytes().hex(), "zvc": False,
            "d_stream": d_stream(D).hex(),
            "tw": {"base": base, "group_tiles": 1, "entries": entries}}


def _final_mask_offset(data, block_words=32):
    """Byte offset of the final block's mask in a ZVC stream (8-bit words)."""
    n = int.from_bytes(data[4:8], "little")
    pos = 8
    for b in range(-(-n // block_words)):
        mask = int.from_bytes(data[pos:pos + block_words // 8], "little")
        if b == -(-n // block_words) - 1:
            return pos, n - b * block_words
        pos += block_words // 8 + bin(mask).count("1")


def bad_steps(rng):
    """Each fault with its expected cause; checked against golden where golden has a view."""
    words = 3
    wa, wb = a_word_bytes(), CONFIG.tile_k * CONFIG.tile_n
    a = rng.integers(0, 256, words * wa, dtype=np.uint8).tobytes()
    b = (rng.integers(0, 256, words * wb) * (rng.random(words * wb) < 0.4)).astype(np.uint8)
    bz = zvc.compress(b, word_width=8, block_words=32)
    steps = [
        dict(fault="stream", name="a_short", which="a", words=words, stream=a[:-8].hex(),
             cause=BusCause.A_SHORT),
        dict(fault="stream", name="a_long", which="a", words=words, stream=(a + a[:8]).hex(),
             cause=BusCause.A_LONG),
        dict(fault="stream", name="b_short", which="b", words=words, stream=b[:-8].tobytes().hex(),
             cause=BusCause.B_SHORT),
        dict(fault="stream", name="a_keep_hole", which="a", words=words, stream=a.hex(),
             keep=[1] * 8 + [1, 0] + [1] * (len(a) - 10), cause=BusCause.A_KEEP),
        dict(fault="range", name="a_range", which="a", base=DEPTH - 2, words=3,
             cause=BusCause.A_RANGE),
        dict(fault="range", name="b_zero_words", which="b", base=0, words=0,
             cause=BusCause.B_RANGE),
    ]
    # ZVC faults: bad magic, a final-block mask bit beyond the length, N too small / large.
    magic = bytearray(bz)
    magic[0] ^= 0xFF
    with pytest.raises(zvc.ZvcHeaderError):
        zvc.expand(bytes(magic))
    short_raw = b[:-5]
    masked = bytearray(zvc.compress(short_raw, word_width=8, block_words=32))
    pos, length = _final_mask_offset(bytes(masked))
    mask = int.from_bytes(masked[pos:pos + 4], "little")
    bit = length + int(rng.integers(0, 32 - length))
    if not mask >> bit & 1:
        masked[pos:pos + 4] = (mask | 1 << bit).to_bytes(4, "little")
        masked.append(0x77)     # the set bit's value, so that only the mask is wrong
    with pytest.raises(zvc.ZvcMaskError):
        zvc.expand(bytes(masked))
    fewer = zvc.compress(b[:-wb], word_width=8, block_words=32)
    more = zvc.compress(np.concatenate([b, b[:wb]]), word_width=8, block_words=32)
    steps += [
        dict(fault="stream", name="zvc_magic", which="b", zvc=True, words=words,
             stream=bytes(magic).hex(), cause=BusCause.ZVC, zvc_code=ZvcStatus.HEADER.value),
        dict(fault="stream", name="zvc_mask", which="b", zvc=True, words=words,
             stream=bytes(masked).hex(), cause=BusCause.ZVC, zvc_code=ZvcStatus.MASK.value),
        dict(fault="stream", name="zvc_n_small", which="b", zvc=True, words=words,
             stream=fewer.hex(), cause=BusCause.B_SHORT),
        dict(fault="stream", name="zvc_n_large", which="b", zvc=True, words=words,
             stream=more.hex(), cause=BusCause.B_LONG),
    ]
    hole = next(a for a in range(0x80) if ENGINE_REGISTERS.at(a) is None
                and AXI_REGISTERS.at(a) is None)
    steps += [
        dict(fault="hole_read", name="hole_read", addr=hole, cause=BusCause.AXI_HOLE),
        dict(fault="hole_write", name="hole_write", addr=0x7F, value=1,
             cause=BusCause.AXI_HOLE),
        dict(fault="ro_write", name="ro_write", addr=ENGINE_REGISTERS["STATUS"].addr, value=1,
             cause=BusCause.AXI_RO),
        dict(fault="strb_write", name="strb_write", addr=AXI_REGISTERS["A_LOAD_BASE"].addr,
             cause=BusCause.AXI_STRB),
        dict(fault="value_write", name="value_write", addr=AXI_REGISTERS["A_LOAD_BASE"].addr,
             value=1 << 16, cause=BusCause.AXI_VALUE),
        dict(fault="t_range", name="table_past_end", addr=DEFAULT_T_DEPTH, value=1 | 1 << 16,
             cause=BusCause.T_RANGE),
    ]
    for step in steps:
        step["kind"] = "bad"
        step["cause"] = int(step["cause"])
    return steps


def run_plan(steps, seed, pause):
    from tb.runner import run_cocotb
    path, name = build()
    folder = path.parent
    stamp = f"{os.getpid()}_{time.monotonic_ns()}"
    plan_path, result_path = folder / f"plan_{stamp}.json", folder / f"result_{stamp}.json"
    cfg = CONFIG
    a_bytes, b_bytes = a_word_bytes(), cfg.tile_k * cfg.tile_n
    plan = {"seed": seed, "pause": pause, "steps": steps,
            "bus_words": a_bytes | b_bytes << 16}
    plan_path.write_text(json.dumps(plan))
    try:
        run_cocotb(sources=[folder / "axi_waivers.vlt", path], toplevel=name, test_module="tb.tb_axi", build_name=name,
                   extra_env={"AXI_PLAN": str(plan_path), "AXI_RESULT": str(result_path)})
        return json.loads(result_path.read_text())
    finally:
        for p in (plan_path, result_path):
            if p.exists():
                p.unlink()


def test_axi_gemm_and_bad_traffic(rng, seed):
    """Random GEMMs (sparse and dense jobs, dense and ZVC B) interleaved with every fault:
    each fault reaches its cause, irq rises, W1C clears it, and the next GEMM is exact."""
    gemms = [gemm_step(rng, f"g{i}", sparse=bool(i % 3 != 2), use_zvc=bool(i % 2))
             for i in range(20)]
    gemms[3::5] = [tw_step(rng, f"tw{i}", sparse=bool(i % 2)) for i in range(len(gemms[3::5]))]
    faults = bad_steps(rng)
    steps = []
    for i, fault in enumerate(faults):
        steps += [gemms[i % len(gemms)], fault]
    steps += gemms[len(faults) % len(gemms):] + gemms[:2]
    log = run_plan(steps, seed, pause=0.3)
    assert log["gemms"] == sum(s["kind"] == "gemm" for s in steps)
    assert log["bad"] == len(faults)
    assert log["tw_jobs"] == sum("tw" in s for s in steps) > 0
    assert log["handshakes_checked"] > 100
    print(f"{log['gemms']} GEMMs ({log['d_bytes']} D bytes), {log['bad']} faults, "
          f"{log['handshakes_checked']} stalled handshakes checked")
