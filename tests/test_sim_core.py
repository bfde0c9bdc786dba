"""cocotb testbenches of the core (tb/tb_core.py) under Verilator, over a sweep of configurations.

Each configuration is one pytest test: its Verilog (hw.gen.emit, or the committed rtl/ file
for the two default configurations) is built once into ``sim_build/core_<config.name>/``
(kept and reused) and every cocotb test of tb/tb_core.py runs against it in one simulator
run. The cocotb module writes a JSON summary there (``tb_summary.json``: operations and
results checked, mismatches, cycles, wall time); this test asserts on it and prints it.

Most of the random volume goes to the cheap configurations; the sweep checks at least
:data:`MIN_TOTAL_OPS` tile operations in all (``test_sweep_volume``).

Replay a failure with ``SEED=<seed> .venv/bin/pytest tests/test_sim_core.py -k <config>``;
``WAVES=1`` writes ``dump.vcd`` into ``sim_build/core_<config.name>_waves_vcd/``
(``WAVES_FORMAT=fst``: ``dump.fst``, needs the lz4 headers).
"""

import json
import os
import pathlib

import pytest

from hw.config import CoreConfig
from tb.core_tb import DEFAULT_COUNTS, PAUSES, config_to_env, wrap_chain_length
from tb.runner import SIM_BUILD, run_cocotb, waves_requested

ROOT = pathlib.Path(__file__).resolve().parent.parent

#: The committed Verilog: configuration → (file, module).
COMMITTED = {
    CoreConfig(): (ROOT / "rtl" / "sparse_mma.v", "sparse_mma"),
    CoreConfig(sparse=False): (ROOT / "rtl" / "dense_mma.v", "dense_mma"),
}

#: The sweep: id → (configuration, operation counts per cocotb test, see tb/tb_core.py).
#: Most random volume sits on the configurations the README and docs/synth.md sell
#: (:data:`ADVERTISED`: at least :data:`ADVERTISED_MIN_RANDOM` random operations each); the
#: default and the wide core also run the accumulator-wrap chain (most-negative² products
#: until the signed range is left twice: 32 769 and 16 385 operations, one compared result
#: each), which int4 and int16 (acc 40) reach in 129.
_FAST = {"random": 3600, "long": 2000, "wrap_max": 300, "invalid": 600, "reset": 400,
         "reset_rounds": 4, "gemm": 1, "dense": 1, "cycle": 100}
SWEEP = {
    "default": (CoreConfig(), {"random": 4000, "long": 2000, "wrap_max": 40000}),
    "default_p2": (CoreConfig(pipeline=2), {"random": 1500}),
    "default_p3": (CoreConfig(pipeline=3), {"random": 1500}),
    "minimal": (CoreConfig(tile_m=1, tile_n=1, tile_k=4), {"random": 5000, "long": 5000}),
    "minimal_p13": (CoreConfig(tile_m=1, tile_n=1, tile_k=4, pipeline=13), {"random": 1500}),
    "wide": (CoreConfig(tile_m=2, tile_n=8, tile_k=32), {"random": 1500, "wrap_max": 20000}),
    "int4": (CoreConfig(a_width=4, b_width=4, acc_width=16), {"random": 3000}),
    "int16": (CoreConfig(a_width=16, b_width=16, acc_width=40), {"random": 2000}),
    "nm1of2": (CoreConfig(n=1, m=2), {"random": 2000}),
    "nm4of8": (CoreConfig(n=4, m=8), {"random": 2000}),
    "dense": (CoreConfig(sparse=False), {"random": 3600, "long": 2000}),
    # ECP5 primitives (dsp="ecp5") simulated with hw/sim_models/MULT18X18D.v and
    # TRELLIS_FF.v. The registered-DSP p = 11 builds are the ones docs/synth.md sells
    # (152.5 MHz median default tile; 5×5×12 is the largest that fits an LFE5U-85F); p = 5 on a
    # small tile covers the shallowest ECP5 pipeline.
    "ecp5_small_p5": (CoreConfig(tile_m=2, tile_n=2, tile_k=8, pipeline=5, dsp="ecp5"),
                      {"random": 1500, "long": 500}),
    "ecp5_p11": (CoreConfig(pipeline=11, dsp="ecp5"), _FAST),
    "ecp5_dense_p11": (CoreConfig(pipeline=11, dsp="ecp5", sparse=False), _FAST),
    "ecp5_5x5x12_p11": (CoreConfig(tile_m=5, tile_n=5, tile_k=12, pipeline=11, dsp="ecp5"),
                        _FAST),
    "ecp5_dense_5x5x12_p11": (CoreConfig(tile_m=5, tile_n=5, tile_k=12, pipeline=11,
                                         dsp="ecp5", sparse=False), _FAST),
}

#: Builds the README and docs/synth.md advertise: the committed rtl/ pair and the
#: registered-DSP ECP5 pairs.
ADVERTISED = ("default", "dense", "ecp5_p11", "ecp5_dense_p11", "ecp5_5x5x12_p11",
              "ecp5_dense_5x5x12_p11")
ADVERTISED_MIN_RANDOM = 20_000

#: Simulation models of vendor primitives, by ``CoreConfig.dsp``.
PRIMITIVE_MODELS = {"generic": [], "ecp5": [ROOT / "hw" / "sim_models" / "MULT18X18D.v",
                                          ROOT / "hw" / "sim_models" / "TRELLIS_FF.v"]}

MIN_TOTAL_OPS = 150_000


def sources_for(config):
    """``(verilog_path, module)`` of ``config``: the committed file, or one emitted into its
    build folder (rewritten only when the text changes, so the build stays cached)."""
    if config in COMMITTED:
        path, module = COMMITTED[config]
        if not path.exists():
            pytest.fail(f"{path} is missing: run 'make verilog'")
        return path, module
    from hw.gen import emit

    folder = SIM_BUILD / build_name(config)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{config.name}.v"
    text = emit(config)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path, config.name


def build_name(config):
    # A folder per configuration (and per wave setting: a traced build is another binary).
    if not waves_requested():
        return f"core_{config.name}"
    return f"core_{config.name}_waves_{os.environ.get('WAVES_FORMAT', 'vcd').lower()}"


@pytest.mark.sim
@pytest.mark.parametrize("name", list(SWEEP))
def test_sim_core(name):
    config, counts = SWEEP[name]
    source, module = sources_for(config)
    folder = SIM_BUILD / build_name(config)
    folder.mkdir(parents=True, exist_ok=True)
    summary_path = folder / "tb_summary.json"
    summary_path.unlink(missing_ok=True)
    env = {
        "CORE_CONFIG": config_to_env(config),
        "TB_OPS": json.dumps(counts),
        "TB_SUMMARY": str(summary_path),
    }
    if os.environ.get("SEED", "") != "":
        env["SEED"] = os.environ["SEED"]
    run_cocotb(sources=[*PRIMITIVE_MODELS[config.dsp], source], toplevel=module,
               test_module="tb.tb_core",
               build_name=build_name(config), extra_env=env)
    if not summary_path.exists() and os.environ.get("COCOTB_TEST_FILTER"):
        pytest.skip("every selected cocotb test was skipped")
    summary = json.loads(summary_path.read_text())
    totals = summary["totals"]
    print(f"{name} ({config.name}): {totals['random_ops_checked']} random operations in "
          f"{totals['results_checked']} compared results "
          f"({totals['constant_results_checked']} of them constant wrap chains, "
          f"{totals['ops_checked']} operations in all), {totals['mismatches']} mismatches, "
          f"{totals['cycles']} cycles, {totals['wall_s']:.1f} s in the testbench "
          f"({totals['ops_checked'] / max(totals['wall_s'], 1e-9):.0f} ops/s)")
    for test, stats in summary["tests"].items():
        print(f"  {test}: {stats}")
    assert totals["mismatches"] == 0
    if not os.environ.get("COCOTB_TEST_FILTER"):     # a filtered run checks less
        floor = floor_ops(config, counts)
        assert totals["random_ops_checked"] >= floor, (
            f"{totals['random_ops_checked']} random operations checked, fewer than {floor}")


def floor_ops(config, counts):
    """Random operations a configuration's run must check at least: its random streams (one
    per stall scenario) and its long random accumulations, which are checked in full. The
    constant wrap chain is one compared result and does not count."""
    counts = {**DEFAULT_COUNTS, **counts}
    return counts["random"] * len(PAUSES) + counts["long"]


def test_advertised_volume():
    """Every advertised build is in the sweep with at least 20 000 random operations."""
    for name in ADVERTISED:
        config, counts = SWEEP[name]
        assert floor_ops(config, counts) >= ADVERTISED_MIN_RANDOM, name


def test_sweep_volume():
    """The sweep checks at least MIN_TOTAL_OPS random operations: each sim test asserts that
    its configuration checked at least ``floor_ops``, and the floors add up to enough."""
    total = sum(floor_ops(config, counts) for config, counts in SWEEP.values())
    assert total >= MIN_TOTAL_OPS, total
