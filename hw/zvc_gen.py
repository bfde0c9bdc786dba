"""Verilog of the ZVC engines, one module per configuration, with flat top-level ports.

``python -m hw.zvc_gen DIR`` writes the default configurations into DIR; the tests emit
their own configurations under ``sim_build/``.
"""

import pathlib
import sys

from amaranth.back import verilog

from .zvc import ZvcCompressorTop, ZvcExpanderTop

__all__ = ["compressor_name", "expander_name", "emit_compressor", "emit_expander"]


def compressor_name(word_width=8, *, block_words=32, beat_words=2):
    """Module name: word width, block size W and words per compressed beat."""
    return f"zvc_compressor_w{word_width}_b{block_words}_beat{beat_words}"


def expander_name(word_width=8, *, block_words=32, beat_words=2):
    """Module name: word width, block size W and words per compressed beat."""
    return f"zvc_expander_w{word_width}_b{block_words}_beat{beat_words}"


def emit_compressor(word_width=8, *, block_words=32, beat_words=2):
    """Verilog text of :class:`~hw.zvc.ZvcCompressorTop`, module :func:`compressor_name`."""
    top = ZvcCompressorTop(word_width, block_words=block_words, beat_words=beat_words)
    name = compressor_name(word_width, block_words=block_words, beat_words=beat_words)
    return verilog.convert(top, name=name, emit_src=False)


def emit_expander(word_width=8, *, block_words=32, beat_words=2):
    """Verilog text of :class:`~hw.zvc.ZvcExpanderTop`, module :func:`expander_name`."""
    top = ZvcExpanderTop(word_width, block_words=block_words, beat_words=beat_words)
    name = expander_name(word_width, block_words=block_words, beat_words=beat_words)
    return verilog.convert(top, name=name, emit_src=False)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out = pathlib.Path(argv[0] if argv else "build/zvc")
    out.mkdir(parents=True, exist_ok=True)
    for ww in (8, 16, 32):
        (out / f"{compressor_name(ww)}.v").write_text(emit_compressor(ww))
        (out / f"{expander_name(ww)}.v").write_text(emit_expander(ww))


if __name__ == "__main__":
    main()
