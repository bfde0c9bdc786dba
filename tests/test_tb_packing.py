"""The testbench's NumPy packing (tb/core_tb.py) equals the hardware's own layouts.

``hw.core.a_layout`` / ``b_layout`` / ``d_layout`` describe the stream payloads; the flat
top (architecture.md §6) exposes their fields as plain bit vectors. Packing a payload with
``layout.const(...).as_bits()`` and cutting out a field must give what the testbench drives
on (or expects from) the corresponding port. No simulator involved.
"""

import itertools

import numpy as np
import pytest
from amaranth.hdl import Shape

from golden.tiles import meta_bits
from hw.config import CoreConfig
from hw.core import a_layout, b_layout, d_layout
from tb.core_tb import (OpBatch, pack_a, pack_b, pack_d, pack_fields, random_ops,
                        unpack_fields, valid_patterns)

CONFIGS = {
    "default": CoreConfig(),
    "minimal": CoreConfig(tile_m=1, tile_n=1, tile_k=4),
    "wide": CoreConfig(tile_m=2, tile_n=8, tile_k=32),
    "int4": CoreConfig(a_width=4, b_width=4, acc_width=16),
    "int16": CoreConfig(a_width=16, b_width=16, acc_width=48),
    "nm1of2": CoreConfig(n=1, m=2),
    "nm4of8": CoreConfig(n=4, m=8),
    "acc64": CoreConfig(acc_width=64, a_width=32, b_width=32),
    "odd": CoreConfig(tile_m=3, tile_n=5, tile_k=8, a_width=7, b_width=5, acc_width=19),
    "dense": CoreConfig(sparse=False),
}


def _field(bits, layout, name):
    field = layout[name]
    return (bits >> field.offset) & ((1 << Shape.cast(field.shape).width) - 1)


def _extreme_batch(config, rng, count=6):
    """Random operations plus all-minimum, all-maximum and all -1 ones, invalid indices."""
    batch = random_ops(rng, config, count, invalid_prob=0.3)
    lo, hi = -(1 << (config.a_width - 1)), (1 << (config.a_width - 1)) - 1
    batch.a_values[0] = lo
    batch.a_values[1] = hi
    batch.a_values[2] = -1
    lo_b, hi_b = -(1 << (config.b_width - 1)), (1 << (config.b_width - 1)) - 1
    batch.b[0] = lo_b
    batch.b[1] = hi_b
    batch.b[2] = -1
    if config.sparse:
        batch.a_idx[3] = (1 << config.index_width) - 1     # every index bit set
    return batch


@pytest.mark.parametrize("name", list(CONFIGS))
def test_pack_a_matches_layout(name, rng):
    config = CONFIGS[name]
    layout = a_layout(config)
    batch = _extreme_batch(config, rng)
    for op, (values, meta, first, last) in zip(batch.tile_ops(), pack_a(config, batch)):
        fields = {"values": op.a_values.tolist(), "first": int(op.first),
                  "last": int(op.last)}
        if config.sparse:
            fields["meta"] = meta_bits(op.a_idx, config.m)
        bits = layout.const(fields).as_bits()
        assert values == _field(bits, layout, "values")
        assert first == _field(bits, layout, "first")
        assert last == _field(bits, layout, "last")
        if config.sparse:
            # golden's per-row metadata field, placed by the hardware's layout.
            assert meta == _field(bits, layout, "meta")
        else:
            assert meta == 0


@pytest.mark.parametrize("name", list(CONFIGS))
def test_pack_b_matches_layout(name, rng):
    config = CONFIGS[name]
    layout = b_layout(config)
    batch = _extreme_batch(config, rng)
    for b, packed in zip(batch.b, pack_b(config, batch)):
        assert packed == layout.const(b.tolist()).as_bits()


@pytest.mark.parametrize("name", list(CONFIGS))
def test_pack_d_matches_layout(name, rng):
    config = CONFIGS[name]
    layout = d_layout(config)
    lo, hi = -(1 << (config.acc_width - 1)), (1 << (config.acc_width - 1)) - 1
    tiles = rng.integers(lo, hi, (5, config.tile_m, config.tile_n), endpoint=True)
    tiles[0] = lo
    tiles[1] = hi
    tiles[2] = -1
    for tile, packed in zip(tiles, pack_d(config, tiles)):
        bits = layout.const({"data": tile.tolist(), "error": 1}).as_bits()
        assert packed == _field(bits, layout, "data")
        back = unpack_fields(packed, tile.size, config.acc_width).reshape(tile.shape)
        np.testing.assert_array_equal(back, tile, strict=False)


@pytest.mark.parametrize("width", [1, 2, 3, 4, 5, 7, 8, 12, 16, 19, 24, 32, 48, 63, 64])
def test_pack_fields_roundtrip(width, rng):
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    values = rng.integers(lo, hi, (7, 3, 5), endpoint=True)
    values[0, 0, 0], values[0, 0, 1] = lo, hi
    for row, packed in zip(values, pack_fields(values, width)):
        expected = sum((int(v) & ((1 << width) - 1)) << (i * width)
                       for i, v in enumerate(row.ravel()))
        assert packed == expected
        np.testing.assert_array_equal(unpack_fields(packed, row.size, width), row.ravel(),
                                      strict=False)


def test_batch_roundtrip_through_tile_ops(rng):
    config = CoreConfig()
    batch = random_ops(rng, config, 20)
    again = OpBatch.from_ops(batch.tile_ops())
    for name in ("a_values", "a_idx", "b", "first", "last"):
        np.testing.assert_array_equal(getattr(again, name), getattr(batch, name))


@pytest.mark.parametrize("n, m", [(1, 2), (2, 4), (4, 8)])
def test_random_ops_cover_every_pattern_in_every_lane(n, m, rng):
    config = CoreConfig(n=n, m=m, tile_k=2 * m)
    patterns = valid_patterns(n, m)
    assert len(patterns) == len(list(itertools.combinations(range(m), n)))
    batch = random_ops(rng, config, len(patterns))
    for r, g in itertools.product(range(config.tile_m), range(config.groups)):
        seen = {tuple(t) for t in batch.a_idx[:, r, g].tolist()}
        assert seen == {tuple(p) for p in patterns.tolist()}
    assert not batch.invalid(config).any()


def test_random_ops_invalid_metadata(rng):
    config = CoreConfig(n=4, m=8)
    batch = random_ops(rng, config, 200, invalid_prob=0.2)
    invalid = batch.invalid(config)
    assert invalid.any() and not invalid.all()
