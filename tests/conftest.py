"""Shared pytest fixtures: one seeded generator per test, replayable with SEED=..."""

import os
import zlib

import numpy as np
import pytest


def test_seed(request):
    """The seed of a test: ``SEED`` from the environment, else a stable hash of its name."""
    if "SEED" in os.environ:
        return int(os.environ["SEED"], 0)
    return zlib.crc32(request.node.nodeid.encode())


@pytest.fixture
def seed(request):
    value = test_seed(request)
    # Printed, so a failing test's captured output says how to replay it.
    print(f"seed {value} (replay with SEED={value})")
    return value


@pytest.fixture
def rng(seed):
    return np.random.default_rng(seed)
