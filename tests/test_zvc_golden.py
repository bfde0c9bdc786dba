"""Golden ZVC model (golden/zvc.py): framing by hand, an independent loop encoder,
round trips, every malformed-stream error with its byte offset, and the baselines."""

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golden import zvc
from golden.errors import GoldenError, ParameterError

CONFIGS = [(8, 8), (8, 32), (16, 16), (16, 32), (32, 32), (32, 64)]
DTYPES = {8: np.uint8, 16: np.uint16, 32: np.uint32}


def reference_compress(words, word_width, block_words):
    """Plain-loop encoder written from the format description, sharing nothing with
    golden/zvc.py."""
    wb = word_width // 8
    out = bytearray()
    out += bytes([0x5A, word_width]) + block_words.to_bytes(2, "little")
    out += len(words).to_bytes(4, "little")
    for start in range(0, len(words), block_words):
        block = [int(x) for x in words[start:start + block_words]]
        mask = 0
        for i, x in enumerate(block):
            if x:
                mask |= 1 << i
        out += mask.to_bytes(block_words // 8, "little")
        for x in block:
            if x:
                out += x.to_bytes(wb, "little")
    return bytes(out)


def random_words(rng, n, density, word_width):
    words = rng.integers(1, 1 << word_width, n, dtype=np.uint64)
    return np.where(rng.random(n) < density, words, 0).astype(DTYPES[word_width])


# --- framing --------------------------------------------------------------------------------

def test_framing_by_hand_8bit():
    # 10 words, W = 8: a full block and a partial block of 2.
    words = [0, 5, 0, 0, 7, 1, 0, 0, 0, 9]
    expect = bytes([
        0x5A, 8, 8, 0, 10, 0, 0, 0,     # magic, word width 8, W = 8, N = 10
        0b00110010, 5, 7, 1,            # block 0: words 1, 4, 5 non-zero
        0b00000010, 9,                  # block 1 (partial, 2 words): word 1 non-zero
    ])
    assert zvc.compress(words, word_width=8, block_words=8) == expect
    np.testing.assert_array_equal(zvc.expand(expect), np.array(words, np.uint8), strict=True)


def test_framing_by_hand_16bit():
    # W = 16 with 16-bit words: the mask is one word; N = 3 is a single partial block.
    words = [0x1234, 0, 0xBEEF]
    expect = bytes([
        0x5A, 16, 16, 0, 3, 0, 0, 0,    # header: 4 words of 16 bits
        0b101, 0,                       # mask word: words 0 and 2
        0x34, 0x12, 0xEF, 0xBE,         # values, little-endian
    ])
    assert zvc.compress(words, word_width=16, block_words=16) == expect
    np.testing.assert_array_equal(zvc.expand(expect), np.array(words, np.uint16), strict=True)


def test_framing_by_hand_32bit_two_mask_words():
    # W = 64 with 32-bit words: the mask spans two words, least-significant first.
    words = [0] * 40 + [0xDEADBEEF]
    expect = (bytes([0x5A, 32, 64, 0, 41, 0, 0, 0])
              + bytes([0, 0, 0, 0, 0, 1, 0, 0])        # bit 40: second mask word, bit 8
              + bytes([0xEF, 0xBE, 0xAD, 0xDE]))
    assert zvc.compress(words, word_width=32, block_words=64) == expect


def test_empty_stream_is_header_only():
    assert zvc.compress([], word_width=16, block_words=32) == bytes([0x5A, 16, 32, 0, 0, 0,
                                                                       0, 0])
    assert zvc.expand(bytes([0x5A, 16, 32, 0, 0, 0, 0, 0])).dtype == np.uint16


def test_signed_words_are_bit_patterns():
    blob = zvc.compress(np.array([-1, 0, 3, -128], np.int8))
    np.testing.assert_array_equal(zvc.expand(blob), np.array([255, 0, 3, 128], np.uint8))


@pytest.mark.parametrize("word_width,block_words", CONFIGS)
def test_matches_reference_encoder(rng, word_width, block_words):
    for n in (0, 1, block_words - 1, block_words, block_words + 1, 5 * block_words + 3):
        for density in (0.0, 0.1, 0.5, 0.9, 1.0):
            words = random_words(rng, n, density, word_width)
            blob = zvc.compress(words, word_width=word_width, block_words=block_words)
            assert blob == reference_compress(words, word_width, block_words)
            assert len(blob) == zvc.compressed_nbytes(words, word_width=word_width,
                                                      block_words=block_words)
            np.testing.assert_array_equal(zvc.expand(blob), words, strict=True)


@settings(max_examples=200, deadline=None)
@given(config=st.sampled_from(CONFIGS), data=st.data())
def test_round_trip(config, data):
    word_width, block_words = config
    n = data.draw(st.integers(0, 4 * block_words + 7))
    density = data.draw(st.floats(0, 1))
    seed = data.draw(st.integers(0, 2**32 - 1))
    words = random_words(np.random.default_rng(seed), n, density, word_width)
    blob = zvc.compress(words, word_width=word_width, block_words=block_words)
    out = zvc.expand(blob, word_width=word_width, block_words=block_words)
    np.testing.assert_array_equal(out, words, strict=True)
    # Every strict prefix is truncated, every extension has trailing data.
    cut = data.draw(st.integers(0, len(blob) - 1))
    with pytest.raises(zvc.ZvcTruncatedError, match=rf"at byte offset {cut}\)$"):
        zvc.expand(blob[:cut])
    extra = data.draw(st.binary(min_size=1, max_size=8))
    with pytest.raises(zvc.ZvcTrailingDataError, match=rf"at byte offset {len(blob)}\)$"):
        zvc.expand(blob + extra)


# --- malformed streams ----------------------------------------------------------------------

GOOD = zvc.compress([0, 3, 0, 5, 0, 0, 0, 0, 7, 0], word_width=8, block_words=8)
# header(8) | mask 0x0A, 3, 5 | mask 0x01, 7  -> 14 bytes


def test_good_layout():
    assert GOOD == bytes([0x5A, 8, 8, 0, 10, 0, 0, 0, 0x0A, 3, 5, 0x01, 7])


@pytest.mark.parametrize("blob,kwargs,error,offset,message", [
    (GOOD[:5], {}, zvc.ZvcTruncatedError, 5, "stream of 5 bytes ends inside the 8-byte header"),
    (b"\x00" + GOOD[1:], {}, zvc.ZvcHeaderError, 0, "bad magic 0x00, expected 0x5A"),
    (GOOD[:1] + b"\x0c" + GOOD[2:], {}, zvc.ZvcWordWidthError, 1,
     "word width 12 is not one of 8, 16, 32"),
    (GOOD, {"word_width": 16}, zvc.ZvcWordWidthError, 1, "word width 8, expected 16"),
    (GOOD[:2] + b"\x0c\x00" + GOOD[4:], {}, zvc.ZvcHeaderError, 2,
     "block size 12 is not a multiple of word width 8 up to 4096"),
    (GOOD, {"block_words": 32}, zvc.ZvcHeaderError, 2, "block size 8, expected 32"),
    (GOOD[:8], {}, zvc.ZvcTruncatedError, 8,
     "block 0 needs a 1-byte mask at byte 8, the stream has 8 bytes"),
    (GOOD[:10], {}, zvc.ZvcTruncatedError, 10,
     "block 0 needs its values up to byte 11, the stream has 10 bytes"),
    (GOOD[:11] + b"\x05\x07", {}, zvc.ZvcMaskError, 11,
     "mask of the final block (length 2) sets bit 2"),
    (GOOD + b"\x00", {}, zvc.ZvcTrailingDataError, 13, "1 bytes follow the last block"),
])
def test_expand_malformed(blob, kwargs, error, offset, message):
    with pytest.raises(error) as info:
        zvc.expand(blob, **kwargs)
    assert str(info.value) == f"{message} (at byte offset {offset})"
    assert info.value.offset == offset
    assert isinstance(info.value, (zvc.ZvcError, GoldenError, ValueError))


def test_wrong_word_width_is_caught_by_framing():
    # A 16-bit stream read with its width byte forged to 8: the walk no longer lines up.
    blob = zvc.compress([1, 0, 2, 3], word_width=16, block_words=16)
    with pytest.raises(zvc.ZvcError):
        zvc.expand(blob[:1] + b"\x08\x10" + blob[3:])


# --- parameters -----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,message", [
    ({"word_width": 12}, "word_width must be one of 8, 16, 32, not 12"),
    ({"block_words": 6}, "block_words must be a multiple of word_width=8, not 6"),
    ({"word_width": 32, "block_words": 16},
     "block_words must be a multiple of word_width=32, not 16"),
    ({"block_words": 8192}, "block_words must be at most 4096, not 8192"),
])
def test_compress_wrong_params(kwargs, message):
    with pytest.raises(ParameterError, match=f"^{message}$"):
        zvc.compress([1, 2], **kwargs)


def test_compress_wrong_words():
    with pytest.raises(ParameterError, match=r"^words must fit 8 bits, found values in "
                                             r"\[0, 256\]$"):
        zvc.compress([0, 256])
    with pytest.raises(ParameterError, match=r"^words must be one-dimensional, not of "
                                             r"shape \(2, 2\)$"):
        zvc.compress([[1, 2], [3, 4]])
    with pytest.raises(ParameterError, match=r"^words must be integers, not float64$"):
        zvc.compress([1.0])


# --- baselines ------------------------------------------------------------------------------

def reference_rle_nbytes(words, word_width):
    cap, pairs, run = (1 << word_width) - 1, 0, 0
    for x in words:
        if x == 0 and run < cap:
            run += 1
        else:                           # a non-zero literal, or a zero ending a full run
            pairs, run = pairs + 1, 0
    pairs += run > 0                    # trailing zeros: (run - 1, 0)
    return 2 * pairs * word_width // 8


@pytest.mark.parametrize("word_width", [8, 16])
def test_rle_matches_reference(rng, word_width):
    cases = [[], [0], [5], [0] * 255, [0] * 256, [0] * 257, [0] * 600 + [1],
             [0] * 256 + [2] + [0] * 3]
    cases += [random_words(rng, 1000, d, word_width) for d in (0.0, 0.01, 0.3, 1.0)]
    for words in cases:
        assert zvc.rle_nbytes(words, word_width=word_width) == \
            reference_rle_nbytes(words, word_width), words


def test_zlib_nbytes():
    words = np.arange(1000, dtype=np.uint16) % 7
    assert zvc.zlib_nbytes(words, word_width=16) == len(zlib.compress(words.tobytes(), 9))
    assert zvc.ratio(100, 25) == 4.0
