"""The ZVC engines' Verilog under Verilator, driven by the cocotb modules tb/tb_zvc_*.py.

One build folder per engine and configuration (``sim_build/zvc_comp_w8_b32_beat2``, ...),
see tb/zvc_run.py. Configurations are (word width, W, words per compressed beat). The
seed comes from the ``seed`` fixture (``SEED=...`` replays a run).
"""

import pytest

from tb.zvc_run import run_zvc

CONFIGS = [(8, 32, 2), (16, 32, 2), (32, 32, 2), (8, 64, 2), (16, 64, 3), (32, 64, 4)]


@pytest.mark.sim
@pytest.mark.parametrize("engine", ["comp", "exp"])
@pytest.mark.parametrize("word_width,block_words,beat_words", CONFIGS,
                         ids=[f"w{w}_b{b}_beat{k}" for w, b, k in CONFIGS])
def test_zvc_sim(engine, word_width, block_words, beat_words, seed):
    assert run_zvc(engine, word_width, block_words, seed, beat_words=beat_words) >= 7
