"""cocotb/Verilator sweep of the fp16 / bf16 cores (tb/tb_fp.py), bit for bit against
golden.fp: at least :data:`MIN_OPS_PER_DTYPE` checked operations per dtype.

Each run draws a fresh seed per configuration and prints it; replay with
``SEED=<seed> .venv/bin/pytest tests/test_sim_fp.py -k <name>``. The
configurations are small tiles (the Verilator model of the default 4×4×16 fp core takes long
to build); ``make sim-fp`` (``FP_SWEEP=full``) adds the default tiles.
"""

import json
import os
import secrets

import pytest

from hw.config import CoreConfig
from tb.core_tb import PAUSES, config_to_env
from tb.runner import SIM_BUILD, run_cocotb
from test_sim_core import build_name, sources_for

MIN_OPS_PER_DTYPE = 20_000

#: name → (configuration, TB_OPS); the floors below count what each run must check.
SWEEP = {
    "fp16_sparse": (CoreConfig(tile_m=2, tile_n=2, tile_k=8, dtype="fp16", pipeline=3),
                    {"random": 2000, "specials": 1500, "long": 3000, "cancel": 2000}),
    "bf16_sparse": (CoreConfig(tile_m=2, tile_n=2, tile_k=8, dtype="bf16", pipeline=2),
                    {"random": 2000, "specials": 1500, "long": 3000, "cancel": 2000}),
    "fp16_dense_g3": (CoreConfig(tile_m=2, tile_n=1, tile_k=8, dtype="fp16", sparse=False,
                                 pipeline=4, fp_guard=3),
                      {"random": 600, "long": 1000, "cancel": 500, "specials": 500}),
    "bf16_dense": (CoreConfig(tile_m=1, tile_n=2, tile_k=8, dtype="bf16", sparse=False,
                              pipeline=6),
                   {"random": 600, "long": 1000, "cancel": 500, "specials": 500}),
}
if os.environ.get("FP_SWEEP") == "full":
    SWEEP.update({
        "fp16_default": (CoreConfig(dtype="fp16", pipeline=4),
                         {"random": 300, "specials": 300, "long": 500, "cancel": 300}),
        "bf16_default_dense": (CoreConfig(dtype="bf16", sparse=False, pipeline=4),
                               {"random": 300, "specials": 300, "long": 500, "cancel": 300}),
    })


def floor_ops(counts):
    """Operations a run must check at least: the random streams (one per stall scenario),
    specials (1.5 × the count), long chains, cancellation."""
    return (counts["random"] * len(PAUSES) + counts["specials"] * 3 // 2 + counts["long"]
            + counts["cancel"])


@pytest.mark.sim
@pytest.mark.parametrize("name", list(SWEEP))
def test_sim_fp(name):
    config, counts = SWEEP[name]
    source, module = sources_for(config)
    folder = SIM_BUILD / build_name(config)
    summary_path = folder / "tb_summary.json"
    summary_path.unlink(missing_ok=True)
    env = {"CORE_CONFIG": config_to_env(config), "TB_OPS": json.dumps(counts),
           "TB_SUMMARY": str(summary_path)}
    seed = os.environ.get("SEED", "") or str(secrets.randbits(32))
    print(f"{name}: seed {seed} (replay with SEED={seed})")
    env["SEED"] = seed
    run_cocotb(sources=[source], toplevel=module, test_module="tb.tb_fp",
               build_name=build_name(config), extra_env=env)
    if not summary_path.exists() and os.environ.get("COCOTB_TEST_FILTER"):
        pytest.skip("every selected cocotb test was skipped")
    totals = json.loads(summary_path.read_text())["totals"]
    print(f"{name} ({config.name}): {totals['ops_checked']} operations and "
          f"{totals['results_checked']} results checked, {totals['mismatches']} mismatches, "
          f"{totals['wall_s']:.1f} s in the testbench")
    assert totals["mismatches"] == 0
    if not os.environ.get("COCOTB_TEST_FILTER"):
        assert totals["ops_checked"] >= floor_ops(counts)


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_sweep_volume(dtype):
    total = sum(floor_ops(counts) for config, counts in SWEEP.values() if config.dtype == dtype)
    assert total >= MIN_OPS_PER_DTYPE, total
