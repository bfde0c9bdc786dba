"""The ZVC engines' Verilog under Verilator, driven by the cocotb modules tb/tb_zvc_*.py.

One build folder per engine and configuration (``sim_build/zvc_comp_w8_b32``, ...), see
tb/zvc_run.py. The seed comes from the ``seed`` fixture (``SEED=...`` replays a run).
"""

import pytest

from tb.zvc_run import run_zvc

CONFIGS = [(8, 32), (16, 32), (32, 32), (8, 64)]


@pytest.mark.sim
@pytest.mark.parametrize("engine", ["comp", "exp"])
@pytest.mark.parametrize("word_width,block_words", CONFIGS,
                         ids=[f"w{w}_b{b}" for w, b in CONFIGS])
def test_zvc_sim(engine, word_width, block_words, seed):
    assert run_zvc(engine, word_width, block_words, seed) >= 7
