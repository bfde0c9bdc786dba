"""Verilog generator: ``python -m hw.gen rtl`` writes the committed rtl/*.v.

Other flows (testbenches, synthesis) call :func:`emit` for any :class:`CoreConfig`.
"""

import argparse
import pathlib
import sys

from amaranth.back import verilog

from .axi_top import DEFAULT_BUILD
from .config import CoreConfig
from .top import FlatSparseMMA

__all__ = ["emit", "RTL_TARGETS", "write_rtl"]

#: The Verilog files committed under rtl/: file name → (module name, configuration).
RTL_TARGETS = {
    "sparse_mma.v": ("sparse_mma", CoreConfig()),
    "dense_mma.v": ("dense_mma", CoreConfig(sparse=False)),
    # The AXI engine (hw/axi_top.py): an entry whose "configuration" emits itself.
    "axi_gemm.v": ("axi_gemm", DEFAULT_BUILD),
}


def emit(config, *, name=None):
    """Verilog text of the flat-port core for ``config``; module ``name`` or ``config.name``.

    Deterministic: the same configuration gives byte-identical text (no source paths).
    """
    if not isinstance(config, CoreConfig):
        raise TypeError(f"config must be a CoreConfig, not {config!r}")
    return verilog.convert(FlatSparseMMA(config), name=name or config.name, emit_src=False)


def write_rtl(directory):
    """Write every file of :data:`RTL_TARGETS` into ``directory``, only where it changed.

    Returns the list of paths that were (re)written.
    """
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, (name, config) in RTL_TARGETS.items():
        path = directory / filename
        text = config.emit(name) if hasattr(config, "emit") else emit(config, name=name)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m hw.gen", description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", default="rtl", help="output folder (rtl)")
    args = parser.parse_args(argv)
    for path in write_rtl(args.directory):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
