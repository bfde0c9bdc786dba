"""Build and run the ZVC engines' cocotb modules for one configuration.

Shared by tests/test_zvc_sim.py and bench/zvc_report.py. The Verilog is generated from
hw/ into the configuration's own build folder (``sim_build/zvc_comp_w8_b32_beat2``, ...) and
rewritten only when it changed, so Verilator's build is reused.
"""

from hw.zvc_gen import compressor_name, emit_compressor, emit_expander, expander_name

from .runner import SIM_BUILD, run_cocotb

__all__ = ["ENGINES", "build_name", "run_zvc"]

ENGINES = {
    "comp": (compressor_name, emit_compressor, "tb.tb_zvc_comp"),
    "exp": (expander_name, emit_expander, "tb.tb_zvc_exp"),
}
#: Amaranth emits a ``case`` per FSM-driven signal covering only the states that drive it
#: (the others keep the default assigned before it); Verilator calls that CASEINCOMPLETE.
#: Waived for these files by a Verilator control file rather than in tb/runner.py.
WAIVERS = '`verilator_config\nlint_off -rule CASEINCOMPLETE -file "*/zvc_*.v"\n'


def build_name(engine, word_width, block_words, beat_words=2):
    return f"zvc_{engine}_w{word_width}_b{block_words}_beat{beat_words}"


def _write(path, text):
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def run_zvc(engine, word_width, block_words, seed, *, beat_words=2, testcase=None,
            extra_env=None):
    """Run ``tb.tb_zvc_<engine>`` on one configuration (``beat_words`` words per
    compressed beat); returns the number of tests run and raises
    :class:`tb.runner.SimulationFailed` on a failure."""
    name_of, emit, module = ENGINES[engine]
    params = {"block_words": block_words, "beat_words": beat_words}
    name = name_of(word_width, **params)
    build = build_name(engine, word_width, block_words, beat_words)
    folder = SIM_BUILD / build
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / f"{name}.v", emit(word_width, **params))
    _write(folder / "zvc_waivers.vlt", WAIVERS)
    env = {"ZVC_WORD_WIDTH": str(word_width), "ZVC_BLOCK_WORDS": str(block_words),
           "ZVC_BEAT_WORDS": str(beat_words), "SEED": str(seed), **(extra_env or {})}
    return run_cocotb(sources=[folder / "zvc_waivers.vlt", folder / f"{name}.v"],
                      toplevel=name, test_module=module, build_name=build,
                      extra_env=env, testcase=testcase)
