"""Shared pytest fixtures: one freshly seeded generator per test, replayable with SEED=...

Every run draws a new seed for every test (so repeated runs explore new stimulus) and prints
it; ``SEED=<value>`` replays it. The printed line is in the captured output of a failing test.
"""

import os
import secrets

import numpy as np
import pytest


def fresh_seed():
    """``SEED`` from the environment, else a new random 32-bit seed."""
    if os.environ.get("SEED", "") != "":
        return int(os.environ["SEED"], 0)
    return secrets.randbits(32)


@pytest.fixture
def seed(request):
    value = fresh_seed()
    print(f"seed {value} (replay with SEED={value}) for {request.node.nodeid}")
    return value


@pytest.fixture
def rng(seed):
    return np.random.default_rng(seed)
