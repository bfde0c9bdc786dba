"""Zero-value compression (ZVC) of Rhu et al., HPCA 2018 (cDMA), and two baselines.

A ZVC stream is a sequence of little-endian words of ``word_width`` bits (8, 16 or 32);
the byte string :func:`compress` returns is exactly what the hardware puts on its
compressed stream, read in order (``beat_words`` words per beat there, ``docs/zvc.md``)::

    header   64 bits, as 64/word_width words, least-significant word first:
             bits  0..7   magic 0x5A ("Z")
             bits  8..15  word_width
             bits 16..31  block_words W
             bits 32..63  length N, in words, of the uncompressed stream
    blocks   ceil(N / W) of them; block b covers words b*W .. min(N, (b+1)*W) - 1:
             mask     W bits as W/word_width words, least-significant word first;
                      bit i set when word b*W + i is non-zero
             values   the block's non-zero words, in order

The final block may be partial (``N % W`` words): its mask bits at and above ``N % W``
are zero, and an expander rejects a stream that sets them. With the length in the header
the stream describes itself: :func:`expand` needs no other argument, and knows where the
stream must end.

:func:`rle_nbytes` and :func:`zlib_nbytes` size the two baselines the paper compared with;
only their sizes (compression ratios) are modelled.
"""

import zlib

import numpy as np

from .errors import GoldenError, ParameterError

__all__ = [
    "MAGIC", "HEADER_BITS", "WORD_WIDTHS", "MAX_BLOCK_WORDS", "MAX_LENGTH",
    "ZvcError", "ZvcHeaderError", "ZvcWordWidthError", "ZvcMaskError",
    "ZvcTruncatedError", "ZvcTrailingDataError",
    "compress", "expand", "compressed_nbytes", "parse_header",
    "rle_nbytes", "zlib_nbytes", "ratio",
]

MAGIC = 0x5A
HEADER_BITS = 64
WORD_WIDTHS = (8, 16, 32)
MAX_BLOCK_WORDS = 4096
MAX_LENGTH = 2**32 - 1

_DTYPES = {8: np.dtype("<u1"), 16: np.dtype("<u2"), 32: np.dtype("<u4")}


# --- errors ---------------------------------------------------------------------------------

class ZvcError(GoldenError, ValueError):
    """A malformed ZVC stream. ``offset`` is the byte offset the message names."""

    def __init__(self, message, offset):
        super().__init__(f"{message} (at byte offset {offset})")
        self.offset = offset


class ZvcHeaderError(ZvcError):
    """The header's magic or block size is wrong."""


class ZvcWordWidthError(ZvcError):
    """The header's word width is unsupported, or not the one the caller expects."""


class ZvcMaskError(ZvcError):
    """The final block's mask sets bits at or beyond the stream's length."""


class ZvcTruncatedError(ZvcError):
    """The stream ends before the header, a mask or a block's values are complete."""


class ZvcTrailingDataError(ZvcError):
    """Bytes follow the last block."""


# --- parameters -----------------------------------------------------------------------------

def _check_params(word_width, block_words):
    if word_width not in WORD_WIDTHS:
        raise ParameterError(f"word_width must be one of 8, 16, 32, not {word_width!r}")
    if (not isinstance(block_words, (int, np.integer)) or isinstance(block_words, bool)
            or block_words < word_width or block_words % word_width):
        raise ParameterError(f"block_words must be a multiple of word_width={word_width}, "
                             f"not {block_words!r}")
    if block_words > MAX_BLOCK_WORDS:
        raise ParameterError(f"block_words must be at most {MAX_BLOCK_WORDS}, "
                             f"not {block_words}")


def _as_words(words, word_width):
    arr = np.asarray(words)
    if arr.ndim != 1:
        raise ParameterError(f"words must be one-dimensional, not of shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise ParameterError(f"words must be integers, not {arr.dtype}")
    if arr.size > MAX_LENGTH:
        raise ParameterError(f"at most {MAX_LENGTH} words fit a stream, not {arr.size}")
    if arr.size and arr.dtype.kind == "i":
        # Signed values are stored as their two's complement bit pattern.
        lo, hi = -(1 << (word_width - 1)), (1 << word_width) - 1
    else:
        lo, hi = 0, (1 << word_width) - 1
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise ParameterError(f"words must fit {word_width} bits, found values in "
                             f"[{arr.min()}, {arr.max()}]")
    return (arr.astype(np.int64) & ((1 << word_width) - 1)).astype(_DTYPES[word_width])


def _header(word_width, block_words, length):
    value = MAGIC | word_width << 8 | block_words << 16 | length << 32
    return value.to_bytes(HEADER_BITS // 8, "little")


# --- ZVC ------------------------------------------------------------------------------------

def compress(words, *, word_width=8, block_words=32):
    """Compress a stream of words into a self-describing ZVC byte string.

    Parameters
    ----------
    words : array_like of int, shape (N,)
        The uncompressed stream. Unsigned values, or signed ones (stored as their two's
        complement pattern), each fitting ``word_width`` bits.
    word_width : int
        8, 16 or 32.
    block_words : int
        W, words per block: a multiple of ``word_width`` (the mask is whole words), at
        most 4096.

    Returns
    -------
    bytes
        Header and blocks as in the module docstring; ``len`` is :func:`compressed_nbytes`.

    Raises
    ------
    ParameterError
        On a bad parameter or a value that does not fit ``word_width`` bits.
    """
    _check_params(word_width, block_words)
    w = _as_words(words, word_width)
    n = w.size
    dtype = _DTYPES[word_width]
    mask_words = block_words // word_width
    nblocks = -(-n // block_words)

    padded = np.zeros(nblocks * block_words, dtype)
    padded[:n] = w
    blocks = padded.reshape(nblocks, block_words)
    nz = blocks != 0
    # W mask bits LSB first == W/8 bytes LSB first == W/word_width little-endian words.
    masks = np.packbits(nz, axis=1, bitorder="little").view(dtype).reshape(nblocks, mask_words)

    block_len = mask_words + nz.sum(axis=1)
    start = (np.cumsum(block_len) - block_len).astype(np.int64)
    out = np.empty(int(block_len.sum()), dtype)
    out[(start[:, None] + np.arange(mask_words)).ravel()] = masks.ravel()
    rank = np.cumsum(nz, axis=1) - 1
    out[(start[:, None] + mask_words + rank)[nz]] = blocks[nz]
    return _header(word_width, block_words, n) + out.tobytes()


def parse_header(data, *, word_width=None):
    """Check a stream's header and return ``(word_width, block_words, length)``.

    Raises the :class:`ZvcError` subclasses of :func:`expand` for the header's bytes.
    """
    data = bytes(data)
    nbytes = HEADER_BITS // 8
    if len(data) < nbytes:
        raise ZvcTruncatedError(f"stream of {len(data)} bytes ends inside the "
                                f"{nbytes}-byte header", len(data))
    value = int.from_bytes(data[:nbytes], "little")
    magic, ww = value & 0xFF, value >> 8 & 0xFF
    w, length = value >> 16 & 0xFFFF, value >> 32
    if magic != MAGIC:
        raise ZvcHeaderError(f"bad magic 0x{magic:02X}, expected 0x{MAGIC:02X}", 0)
    if ww not in WORD_WIDTHS:
        raise ZvcWordWidthError(f"word width {ww} is not one of 8, 16, 32", 1)
    if word_width is not None and ww != word_width:
        raise ZvcWordWidthError(f"word width {ww}, expected {word_width}", 1)
    if w < ww or w % ww or w > MAX_BLOCK_WORDS:
        raise ZvcHeaderError(f"block size {w} is not a multiple of word width {ww} "
                             f"up to {MAX_BLOCK_WORDS}", 2)
    return ww, w, length


def expand(data, *, word_width=None, block_words=None):
    """Expand a ZVC byte string back into its words.

    Parameters
    ----------
    data : bytes-like
        A stream made by :func:`compress` (or by the hardware compressor).
    word_width, block_words : int, optional
        If given, the header must carry these values (a hardware expander is built for
        one of each).

    Returns
    -------
    numpy.ndarray, shape (N,), dtype uint8 / uint16 / uint32 (by word width)

    Raises
    ------
    ZvcTruncatedError
        The stream ends inside the header, a mask or a block's values.
    ZvcHeaderError
        Bad magic, an impossible block size, or not the expected ``block_words``.
    ZvcWordWidthError
        Unsupported word width, or not the expected ``word_width``.
    ZvcMaskError
        The final (partial) block's mask sets bits beyond the length.
    ZvcTrailingDataError
        Bytes follow the last block.

    Each message names the byte offset of the fault: the field at fault, the end of the
    data for a truncation, the first surplus byte for trailing data.
    """
    data = bytes(data)
    ww, w, n = parse_header(data, word_width=word_width)
    if block_words is not None and w != block_words:
        raise ZvcHeaderError(f"block size {w}, expected {block_words}", 2)
    wb = ww // 8
    mask_bytes = w // 8
    nblocks = -(-n // w)

    # Walk the blocks: each block's size depends on its mask, so this loop is sequential
    # (one popcount per block); the values are gathered vectorized afterwards.
    mask_at = np.empty(nblocks, np.int64)
    pos = HEADER_BITS // 8
    for b in range(nblocks):
        if pos + mask_bytes > len(data):
            raise ZvcTruncatedError(f"block {b} needs a {mask_bytes}-byte mask at byte "
                                    f"{pos}, the stream has {len(data)} bytes", len(data))
        mask = int.from_bytes(data[pos:pos + mask_bytes], "little")
        valid = min(w, n - b * w)
        if mask >> valid:
            raise ZvcMaskError(f"mask of the final block (length {valid}) sets bit "
                               f"{mask.bit_length() - 1}", pos)
        mask_at[b] = pos
        pos += mask_bytes + mask.bit_count() * wb
        if pos > len(data):
            raise ZvcTruncatedError(f"block {b} needs its values up to byte {pos}, the "
                                    f"stream has {len(data)} bytes", len(data))
    if pos != len(data):
        raise ZvcTrailingDataError(f"{len(data) - pos} bytes follow the last block", pos)

    buf = np.frombuffer(data, np.uint8)
    masks = buf[(mask_at[:, None] + np.arange(mask_bytes)).ravel()].reshape(nblocks,
                                                                            mask_bytes)
    nz = np.unpackbits(masks, axis=1, bitorder="little").astype(bool)
    rank = np.cumsum(nz, axis=1) - 1
    word_at = (mask_at[:, None] + mask_bytes + rank * wb)[nz]
    value_bytes = buf[(word_at[:, None] + np.arange(wb)).ravel()]
    out = np.zeros((nblocks, w), _DTYPES[ww])
    out[nz] = value_bytes.view(_DTYPES[ww])
    return out.ravel()[:n]


def compressed_nbytes(words, *, word_width=8, block_words=32):
    """Size of :func:`compress`'s output in bytes, without building it."""
    _check_params(word_width, block_words)
    w = _as_words(words, word_width)
    nblocks = -(-w.size // block_words)
    words_out = nblocks * (block_words // word_width) + int(np.count_nonzero(w))
    return HEADER_BITS // 8 + words_out * (word_width // 8)


# --- baselines ------------------------------------------------------------------------------

def rle_nbytes(words, *, word_width=8):
    """Size in bytes of run-length encoding of zeros (the paper's RL baseline).

    The encoding is a sequence of ``(run, literal)`` word pairs: ``run`` zeros, then the
    word ``literal``. ``run`` is one word wide, so it saturates at ``2**word_width - 1``;
    a longer run continues with a pair whose literal is a zero, and the stream's trailing
    zeros end with such a pair too. So a run of ``r`` zeros before a non-zero word takes
    ``1 + r // 2**word_width`` pairs, and a trailing run ``ceil(r / 2**word_width)``.
    """
    if word_width not in WORD_WIDTHS:
        raise ParameterError(f"word_width must be one of 8, 16, 32, not {word_width!r}")
    w = _as_words(words, word_width)
    span = 1 << word_width                      # zeros one pair can cover: run + literal 0
    nzi = np.flatnonzero(w)
    runs = np.diff(np.concatenate(([-1], nzi))) - 1
    tail = w.size - 1 - (nzi[-1] if nzi.size else -1)
    pairs = int((1 + runs // span).sum()) + -(-int(tail) // span)
    return 2 * pairs * (word_width // 8)


def zlib_nbytes(words, *, word_width=8, level=9):
    """Size in bytes of ``zlib.compress`` (DEFLATE, ``level``) of the words' bytes."""
    if word_width not in WORD_WIDTHS:
        raise ParameterError(f"word_width must be one of 8, 16, 32, not {word_width!r}")
    w = _as_words(words, word_width)
    return len(zlib.compress(w.astype(_DTYPES[word_width]).tobytes(), level))


def ratio(raw_nbytes, compressed_nbytes):
    """Compression ratio, uncompressed over compressed size (>1 is a gain)."""
    return raw_nbytes / compressed_nbytes
