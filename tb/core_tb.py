"""cocotb testbench of the flat-port sparse MMA core (docs/architecture.md §3, §4, §6).

One :class:`CoreTB` per test owns the clock, the reset, a :class:`StreamDriver` for each of
the A and B inputs, a :class:`StreamMonitor` on D, the model (:func:`golden.tiles.core_model`
behind :class:`ModelStream`) and an in-order :class:`Scoreboard`::

    tb = CoreTB(dut, seed=seed, a_pause=random_pauses(rng, 0.3), d_pause=cycle([1, 1, 0]))
    await tb.reset()
    tb.send(random_ops(rng, tb.config, 1000))
    await tb.drain()
    tb.finish("random")          # asserts zero mismatches, records the figures

Timing. Inputs change just after a rising clock edge; handshakes and outputs are sampled
at the falling edge, where everything has settled for the coming rising edge. (Under
Verilator a ``RisingEdge`` wakes the testbench *after* the design's flip-flops have updated,
so sampling there would read next-cycle ``ready``.) Cycle ``k`` is the clock period that
ends with the rising edge at ``(k + 1) * CLOCK_PERIOD_NS``; a transfer "in cycle ``k``" is
the one that happens on that edge.

Pause generators follow cocotbext-axi: an iterator of truthy/falsy values consumed once per
cycle, truthy meaning *pause*. On a driver a pause delays raising ``valid`` for the next item
(a raised ``valid`` is held until the transfer, as the stream rules require); on the monitor
it holds ``d_ready`` low. ``itertools.cycle([1, 1, 1, 0])`` pauses three cycles in four.

Stimulus is packed into the flat port integers with NumPy (:func:`pack_fields`), a whole
batch of operations at once, so the per-cycle Python work is a handful of handle reads and
writes.
"""

import collections
import dataclasses
import itertools
import json
import logging
import os
import pathlib
import secrets
import time

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import Event, FallingEdge, RisingEdge, SimTimeoutError, with_timeout
from cocotb.utils import get_sim_time

from golden import invalid_groups
from golden.tiles import TileOp, core_model
from hw.config import CoreConfig

__all__ = [
    "CLOCK_PERIOD_NS", "DEFAULT_COUNTS",
    "config_from_env", "config_to_env", "seed_for", "op_counts",
    "pack_fields", "unpack_fields", "OpBatch", "pack_a", "pack_b", "pack_d",
    "valid_patterns", "random_ops", "long_chain_ops", "wrap_chain_length",
    "random_pauses", "make_pause", "PAUSES",
    "StreamDriver", "StreamMonitor", "Scoreboard", "ModelStream", "CoreTB",
    "record_summary",
]

CLOCK_PERIOD_NS = 10


# --- configuration from the environment ---------------------------------------------------------

def config_to_env(config):
    """JSON of a :class:`CoreConfig`'s fields, for ``CORE_CONFIG`` in ``extra_env``."""
    return json.dumps(dataclasses.asdict(config), sort_keys=True)


def config_from_env():
    """The :class:`CoreConfig` named by ``CORE_CONFIG`` (JSON of its fields); default if unset."""
    return CoreConfig(**json.loads(os.environ.get("CORE_CONFIG", "{}")))


def seed_for(name):
    """``SEED`` from the environment, else a fresh random seed (a new one every run).

    ``name`` is kept for the log line; the seed is logged by :class:`CoreTB` and replays the
    test's stimulus with ``SEED=<seed>``."""
    if os.environ.get("SEED", "") != "":
        return int(os.environ["SEED"], 0)
    return secrets.randbits(32)


#: Operations per cocotb test of tb/tb_core.py (per parametrized instance); ``TB_OPS`` overrides.
DEFAULT_COUNTS = {
    "random": 2000,       # each stall scenario of PAUSES
    "long": 1000,         # long accumulations (chains of 64 … 512)
    "wrap_max": 2000,     # cap on the most-negative² chain that wraps the accumulators
    "invalid": 600,
    "reset": 400,         # per reset round
    "reset_rounds": 4,
    "gemm": 3,            # GEMMs (random shapes)
    "dense": 2,           # dense GEMMs
    "cycle": 300,
}


def op_counts(defaults):
    """Operation counts per test: ``defaults`` updated from ``TB_OPS`` (JSON object)."""
    counts = dict(defaults)
    counts.update(json.loads(os.environ.get("TB_OPS", "{}")))
    return counts


# --- packing (architecture.md §6: element 0 at the least-significant bits) ---------------------

_NATIVE = {8: "<u1", 16: "<u2", 32: "<u4", 64: "<u8"}


def pack_fields(values, width):
    """Pack each row of ``values`` into one integer, element ``i`` at bit ``i * width``.

    Parameters
    ----------
    values : array_like of int, shape (count, ...)
        Signed or unsigned; only the low ``width`` bits of each element are kept.
    width : int
        Bits per element, 1 … 64.

    Returns
    -------
    list of int
        ``count`` non-negative integers.
    """
    arr = np.asarray(values, dtype=np.int64)
    count = arr.shape[0]
    flat = arr.reshape(count, -1)
    if flat.shape[1] == 0:
        return [0] * count
    if width in _NATIVE:
        # Casting int64 to a narrower unsigned type keeps the low bits (two's complement).
        packed = flat.astype(_NATIVE[width])
    else:
        u = flat.astype(np.uint64) & np.uint64((1 << width) - 1)
        shifts = np.arange(width, dtype=np.uint64)
        bits = ((u[:, :, None] >> shifts) & np.uint64(1)).astype(np.uint8)
        packed = np.packbits(bits.reshape(count, -1), axis=1, bitorder="little")
    stride = packed.nbytes // count
    raw = packed.tobytes()
    return [int.from_bytes(raw[i * stride:(i + 1) * stride], "little") for i in range(count)]


def unpack_fields(value, count, width, *, signed=True):
    """Inverse of :func:`pack_fields` for one integer: ``count`` elements as int64."""
    nbytes = (count * width + 7) // 8
    raw = np.frombuffer(int(value).to_bytes(nbytes, "little"), np.uint8)
    bits = np.unpackbits(raw, bitorder="little")[:count * width].reshape(count, width)
    u = (bits.astype(np.uint64) << np.arange(width, dtype=np.uint64)).sum(axis=1,
                                                                          dtype=np.uint64)
    if width == 64:
        return u.view(np.int64) if signed else u   # unsigned 64-bit stays uint64
    if not signed:
        return u.astype(np.int64)
    half = 1 << (width - 1)
    # (u ^ half) - half sign-extends bit width-1; every term fits int64.
    return (u ^ np.uint64(half)).astype(np.int64) - np.int64(half)


@dataclasses.dataclass
class OpBatch:
    """A batch of tile operations as arrays (architecture.md §3), operation index first.

    Members
    -------
    a_values : numpy.ndarray of int64, shape (count, tile_m, kept_k)
    a_idx : numpy.ndarray of int64, shape (count, tile_m, tile_k/m, n)
        ``(count, tile_m, 0, 0)`` for the dense baseline.
    b : numpy.ndarray of int64, shape (count, b_rows, tile_n)
    first, last : numpy.ndarray of bool, shape (count,)
    """

    a_values: np.ndarray
    a_idx: np.ndarray
    b: np.ndarray
    first: np.ndarray
    last: np.ndarray

    def __len__(self):
        return len(self.first)

    @classmethod
    def from_ops(cls, ops):
        """Stack a sequence of :class:`golden.tiles.TileOp`."""
        return cls(
            a_values=np.stack([np.asarray(op.a_values, np.int64) for op in ops]),
            a_idx=np.stack([np.asarray(op.a_idx, np.int64) for op in ops]),
            b=np.stack([np.asarray(op.b, np.int64) for op in ops]),
            first=np.array([bool(op.first) for op in ops]),
            last=np.array([bool(op.last) for op in ops]),
        )

    def tile_ops(self):
        """The operations as a list of :class:`golden.tiles.TileOp`, for the model."""
        return [TileOp(a, i, b, bool(f), bool(la)) for a, i, b, f, la in
                zip(self.a_values, self.a_idx, self.b, self.first, self.last)]

    def invalid(self, config):
        """Per operation: does it hold an invalid metadata group (architecture.md §4)?"""
        if not config.sparse or self.a_idx.size == 0:
            return np.zeros(len(self), bool)
        flat = self.a_idx.reshape(-1, config.groups, config.n)
        return invalid_groups(flat, config.m).reshape(len(self), -1).any(axis=1)


def pack_a(config, batch):
    """``(a_values, a_meta, a_first, a_last)`` port values of each operation of ``batch``.

    ``a_meta`` is 0 for the dense baseline (which has no such port).
    """
    values = pack_fields(batch.a_values, config.a_width)
    if config.sparse:
        meta = pack_fields(batch.a_idx, config.index_width)
    else:
        meta = [0] * len(batch)
    return list(zip(values, meta, batch.first.astype(int).tolist(),
                    batch.last.astype(int).tolist()))


def pack_b(config, batch):
    """``b_data`` port value of each operation of ``batch``."""
    return pack_fields(batch.b, config.b_width)


def pack_d(config, tiles):
    """``d_data`` port values of result tiles, shape (count, tile_m, tile_n)."""
    return pack_fields(tiles, config.acc_width)


# --- stimulus ----------------------------------------------------------------------------------

def valid_patterns(n, m):
    """Every valid in-group index tuple of N:M, shape (comb(m, n), n), in lexicographic order."""
    return np.array(list(itertools.combinations(range(m), n)), np.int64).reshape(-1, n)


def _limits(width):
    return -(1 << (width - 1)), (1 << (width - 1)) - 1


def _operands(rng, shape, width, count, extreme_ops):
    """Uniform full-range values; operations in ``extreme_ops`` drawn from the extremes."""
    lo, hi = _limits(width)
    x = rng.integers(lo, hi + 1, size=shape, dtype=np.int64)
    picks = np.array(sorted({lo, lo + 1, -1, 0, 1, hi}), np.int64)
    ext = picks[rng.integers(0, len(picks), size=shape)]
    sel = extreme_ops.reshape((count,) + (1,) * (len(shape) - 1))
    return np.where(sel, ext, x)


def _flags(rng, count, mode, chain):
    if mode == "random":
        # Every combination of first/last, including accumulating across a last and
        # restarting without one.
        first = rng.random(count) < 0.5
        last = rng.random(count) < 0.5
    elif mode == "chains":
        first = np.zeros(count, bool)
        last = np.zeros(count, bool)
        pos = 0
        while pos < count:
            length = int(rng.integers(chain[0], chain[1] + 1))
            first[pos] = True
            last[min(pos + length, count) - 1] = True
            pos += length
    else:
        raise ValueError(f"unknown flag mode {mode!r}")
    last[-1] = True  # every operation ends up in a checked result
    return first, last


def random_ops(rng, config, count, *, zero_prob=0.25, extreme_prob=0.1, min_prob=0.03,
               invalid_prob=0.0, flags="random", chain=(1, 8), cover=True):
    """Random operations for ``config``.

    * metadata: a random valid pattern per (row, group); with ``cover`` the first
      ``comb(m, n)`` operations give every (row, group) lane every valid pattern;
    * ``zero_prob`` of the groups keep fewer than ``n`` non-zeros (0 … n-1, random slots);
    * ``extreme_prob`` of the operations take values from {min, min+1, -1, 0, 1, max} only;
      ``min_prob`` of them are all most-negative (A and B), the largest products there are;
    * ``invalid_prob`` of the groups get an invalid index tuple (N:M with n >= 2 only);
    * ``flags``: ``"random"`` (independent first/last) or ``"chains"`` (lengths in ``chain``).
    """
    tm, tn = config.tile_m, config.tile_n
    kept, groups, n, m = config.kept_k, config.groups, config.n, config.m
    extreme = rng.random(count) < extreme_prob
    a = _operands(rng, (count, tm, kept), config.a_width, count, extreme)
    b = _operands(rng, (count, config.b_rows, tn), config.b_width, count, extreme)
    if config.sparse:
        patterns = valid_patterns(n, m)
        choice = rng.integers(0, len(patterns), size=(count, tm, groups))
        if cover:
            head = min(count, len(patterns))
            lanes = np.arange(tm)[:, None] + np.arange(groups)[None, :]
            choice[:head] = (np.arange(head)[:, None, None] + lanes) % len(patterns)
        idx = patterns[choice]
        # Groups with fewer than n non-zeros: zero a random subset of the kept slots.
        fewer = rng.random((count, tm, groups)) < zero_prob
        nonzeros = rng.integers(0, n, size=(count, tm, groups))
        rank = rng.random((count, tm, groups, n)).argsort(axis=-1).argsort(axis=-1)
        drop = fewer[..., None] & (rank >= nonzeros[..., None])
        a = np.where(drop.reshape(count, tm, kept), 0, a)
        if invalid_prob and n >= 2:
            bad = rng.random((count, tm, groups)) < invalid_prob
            wild = rng.integers(0, 1 << config.index_width, size=(count, tm, groups, n))
            # A random tuple that happens to be valid is made invalid by repeating an index.
            still_valid = ~invalid_groups(wild.reshape(-1, groups, n), m).reshape(
                count, tm, groups)
            slot = rng.integers(1, n, size=(count, tm, groups))
            fixed = wild.copy()
            np.put_along_axis(fixed, slot[..., None],
                              np.take_along_axis(wild, slot[..., None] - 1, axis=-1), axis=-1)
            wild = np.where(still_valid[..., None], fixed, wild)
            idx = np.where(bad[..., None], wild, idx)
    else:
        idx = np.zeros((count, tm, 0, 0), np.int64)
    # Most-negative × most-negative in every product (after the zeroing above).
    all_min = rng.random(count) < min_prob
    a[all_min] = _limits(config.a_width)[0]
    b[all_min] = _limits(config.b_width)[0]
    first, last = _flags(rng, count, flags, chain)
    return OpBatch(a, idx, b, first, last)


def wrap_chain_length(config, counts):
    """Operations of the most-negative² chain of the long-accumulation test: enough to
    leave the signed accumulator range twice, capped at ``counts["wrap_max"]``.

    Returns ``(length, overflow_after)``; the sum first leaves the signed range after
    ``overflow_after`` operations.
    """
    per_op = config.kept_k * (1 << (config.a_width - 1)) * (1 << (config.b_width - 1))
    overflow_after = -(-(1 << (config.acc_width - 1)) // per_op)
    return min(2 * overflow_after + 1, counts["wrap_max"]), overflow_after


def long_chain_ops(rng, config, length):
    """One accumulation of ``length`` operations whose products are all most-negative²
    (the largest a product can be), in every lane: the accumulators wrap every
    ``2**(acc_width-1) / (kept_k * min_a * min_b)`` operations."""
    batch = random_ops(rng, config, length, zero_prob=0.0, extreme_prob=0.0, min_prob=1.0,
                       flags="chains", chain=(length, length), cover=True)
    return batch


def random_pauses(rng, probability):
    """An endless pause generator: each cycle pauses with ``probability``."""
    while True:
        yield from (rng.random(4096) < probability).tolist()


def make_pause(spec, rng):
    """A pause generator from a :data:`PAUSES` entry (None, probability or pattern)."""
    if spec is None:
        return None
    if isinstance(spec, float):
        return random_pauses(rng, spec)
    return itertools.cycle(spec)


#: Named stall scenarios: (A pause, B pause, D pause); a float is a random pause probability,
#: a list a repeating pattern (1 = pause).
PAUSES = {
    "none": (None, None, None),
    "valid_gaps": (0.3, [0, 0, 1], None),
    "backpressure": (None, None, 0.5),
    "mixed": ([1, 0, 0, 0], 0.2, 0.3),
    "heavy": (0.5, 0.5, [1, 1, 1, 0]),
}


# --- drivers and monitor -----------------------------------------------------------------------

def _read(handle):
    value = handle.value
    return value.to_unsigned() if hasattr(value, "to_unsigned") else int(value)


class StreamDriver:
    """Drives one valid/ready input stream of the flat top.

    Items are tuples holding one value per payload handle; a payload handle is written only
    when its value changes. The testbench's cycle loop calls :meth:`drive` after every
    rising edge and :meth:`sample` at every falling edge (one loop for all the streams keeps
    the scheduler work per cycle small). ``accept_cycles`` records the cycle of every
    transfer.
    """

    def __init__(self, valid, ready, payload, *, pause=None, name="driver"):
        self.valid, self.ready, self.payload = valid, ready, payload
        self.pause = pause
        self.name = name
        self.queue = collections.deque()
        self.accept_cycles = []
        self.idle = Event()
        self.idle.set()
        self.valid_hi = False
        self.ready_seen = False
        self._holding = False
        self._written = [None] * len(payload)

    def restart(self):
        """Drop the queue and lower ``valid`` (a reset)."""
        self.queue.clear()
        self.valid.value = 0
        self.valid_hi = self._holding = False
        self._written = [None] * len(self.payload)
        self.idle.set()

    def send(self, items):
        self.queue.extend(items)
        if self.queue:
            self.idle.clear()

    @property
    def accepted(self):
        return len(self.accept_cycles)

    def drive(self):
        if self._holding:
            return
        queue = self.queue
        if queue and not (self.pause is not None and next(self.pause)):
            written = self._written
            for i, value in enumerate(queue[0]):
                if written[i] != value:
                    self.payload[i].value = value
                    written[i] = value
            self._holding = True
            if not self.valid_hi:
                self.valid.value = 1
                self.valid_hi = True
        elif self.valid_hi:
            self.valid.value = 0
            self.valid_hi = False

    def sample(self, cycle):
        """Returns whether a transfer happens on the coming rising edge."""
        self.ready_seen = ready = bool(self.ready.value)
        if self._holding and ready:
            self.queue.popleft()
            self.accept_cycles.append(cycle)
            self._holding = False
            if not self.queue:
                self.idle.set()
            return True
        return False


class StreamMonitor:
    """Takes results from the D stream; ``pause`` holds ``d_ready`` low (back-pressure).

    ``callback(values, cycle)`` gets a tuple of the payload handles' values per transfer.
    Also checks the stream rule on D: once ``d_valid`` is up it stays up, with the payload
    unchanged, until the transfer.
    """

    def __init__(self, valid, ready, payload, *, callback, pause=None, name="monitor"):
        self.valid, self.ready, self.payload = valid, ready, payload
        self.callback = callback
        self.pause = pause
        self.name = name
        self.protocol_errors = []
        self.transfers = 0
        self._ready_hi = None
        self._stalled = None

    def restart(self, ready=None):
        """Set ``d_ready`` (default: as the pause generator wants) and forget stalls."""
        self._stalled = None
        self._ready_hi = bool(ready if ready is not None else self.pause is None)
        self.ready.value = int(self._ready_hi)

    def drive(self):
        if self.pause is not None:
            want = not next(self.pause)
            if want != self._ready_hi:
                self.ready.value = int(want)
                self._ready_hi = want

    def sample(self, cycle):
        if self.valid.value:
            values = tuple(_read(h) for h in self.payload)
            if self._stalled is not None and values != self._stalled:
                self.protocol_errors.append(
                    f"cycle {cycle}: {self.name} payload changed while stalled")
            if self._ready_hi:
                self.transfers += 1
                self._stalled = None
                self.callback(values, cycle)
            else:
                self._stalled = values
        elif self._stalled is not None:
            self.protocol_errors.append(
                f"cycle {cycle}: {self.name} valid dropped before the transfer")
            self._stalled = None


# --- model and scoreboard ----------------------------------------------------------------------

class ModelStream:
    """:func:`golden.tiles.core_model` over a stream sent in batches.

    The model starts from reset on every call, and an operation with ``first`` makes the
    state independent of everything before it, so each batch is modelled together with the
    operations since the last ``first`` (or the last reset).
    """

    def __init__(self, config):
        self.config = config
        self.reset()

    def reset(self):
        self._tail = []          # TileOps since the last first (or reset)
        self._tail_results = 0   # results those operations already produced
        self.sticky = False      # any invalid operation since reset

    def predict(self, batch):
        """Results of ``batch`` (a list of TileResult) and, per result, the index within
        ``batch`` of the operation that emitted it."""
        cfg = self.config
        ops = batch.tile_ops()
        starts = np.flatnonzero(batch.first)
        history = self._tail + ops
        results = core_model(history, n=cfg.n, m=cfg.m, acc_width=cfg.acc_width,
                             sparse=cfg.sparse)[self._tail_results:]
        if len(starts):
            self._tail = ops[starts[-1]:]
            self._tail_results = int(batch.last[starts[-1]:].sum())
        else:
            self._tail = history
            self._tail_results += int(batch.last.sum())
        self.sticky = self.sticky or bool(batch.invalid(cfg).any())
        return results, np.flatnonzero(batch.last)


class Scoreboard:
    """In-order checker of D results against the model's prediction.

    Counts results compared, and operations checked (an operation counts when the result its
    accumulation ends in matches), separately for random operations and for constant ones (the
    most-negative² wrap chain: thousands of identical operations, one result, so it proves the
    wrap but counts as one check, not as random volume), and mismatches; logs the first few
    mismatches in full.
    """

    MAX_REPORTED = 5

    def __init__(self, config, log, error_handle):
        self.config = config
        self.log = log
        self.error_handle = error_handle
        self.expected = collections.deque()
        self.results_checked = 0
        self.ops_checked = 0
        self.random_ops_checked = 0
        self.constant_results_checked = 0
        self.mismatches = 0
        self.failures = []
        self.result_cycles = []
        #: A list to append every received ``d_data`` to, or None.
        self.collect = None
        self._empty = Event()
        self._empty.set()

    def expect(self, packed, errors, ops_per_result, tags, *, constant=False):
        for item in zip(packed, errors, ops_per_result, tags):
            self.expected.append((*item, constant))
        if self.expected:
            self._empty.clear()

    def flush(self):
        """Forget outstanding predictions (results in flight at a reset)."""
        dropped = len(self.expected)
        self.expected.clear()
        self._empty.set()
        return dropped

    async def wait_empty(self):
        await self._empty.wait()

    def receive(self, values, cycle):
        data, error = values
        if self.collect is not None:
            self.collect.append(data)
        if not self.expected:
            self._fail(f"cycle {cycle}: unexpected result (none outstanding)", data, None)
            return
        want_data, want_error, ops, tag, constant = self.expected.popleft()
        if not self.expected:
            self._empty.set()
        self.result_cycles.append((cycle, tag))
        problems = []
        if data != want_data:
            problems.append("d_data differs")
        if error != want_error:
            problems.append(f"d_error is {error}, model says {int(want_error)}")
        if want_error and not int(self.error_handle.value):
            problems.append("sticky error is low while a result with d_error is delivered")
        if problems:
            self._fail(f"cycle {cycle}, result of operation {tag}: " + "; ".join(problems),
                       data, want_data)
        else:
            self.results_checked += 1
            self.ops_checked += ops
            if constant:
                self.constant_results_checked += 1
            else:
                self.random_ops_checked += ops

    def _fail(self, message, got, want):
        self.mismatches += 1
        if len(self.failures) < self.MAX_REPORTED:
            cfg = self.config
            shape = (cfg.tile_m, cfg.tile_n)
            count = cfg.tile_m * cfg.tile_n
            detail = message
            if want is not None:
                g = unpack_fields(got, count, cfg.acc_width).reshape(shape)
                w = unpack_fields(want, count, cfg.acc_width).reshape(shape)
                detail += f"\n  got:\n{g}\n  model:\n{w}"
            self.failures.append(detail)
            self.log.error("MISMATCH %s", detail)


# --- the testbench -----------------------------------------------------------------------------

class CoreTB:
    """Testbench of one flat-port core (``dut``): clock, reset, drivers, monitor, model,
    scoreboard.

    Parameters
    ----------
    dut : cocotb handle of the flat top
    config : CoreConfig, optional
        Defaults to :func:`config_from_env`.
    seed : int
        Logged; all randomness of the test should come from ``self.rng``.
    a_pause, b_pause, d_pause : iterator, optional
        Pause generators (1 = pause) of the A and B drivers and of ``d_ready``.
    """

    def __init__(self, dut, config=None, *, seed, a_pause=None, b_pause=None, d_pause=None):
        self.dut = dut
        self.config = config if config is not None else config_from_env()
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.log = logging.getLogger("cocotb.tb")
        self.log.info("seed %d (replay with SEED=%d); config %s", seed, seed, self.config.name)
        Clock(dut.clk, CLOCK_PERIOD_NS, unit="ns").start()
        cfg = self.config
        dut.rst.value = 1
        a_payload = [dut.a_values] + ([dut.a_meta] if cfg.sparse else []) + [dut.a_first,
                                                                             dut.a_last]
        self.a = StreamDriver(dut.a_valid, dut.a_ready, a_payload, pause=a_pause, name="a")
        self.b = StreamDriver(dut.b_valid, dut.b_ready, [dut.b_data], pause=b_pause, name="b")
        self.model = ModelStream(cfg)
        self.scoreboard = Scoreboard(cfg, self.log, dut.error)
        self.d = StreamMonitor(dut.d_valid, dut.d_ready, [dut.d_data, dut.d_error],
                               pause=d_pause, name="d", callback=self.scoreboard.receive)
        #: The current cycle (see the module docstring), counted by the cycle loop.
        self.cycle = 0
        #: Set to a dict to record the sticky ``error`` output of every cycle (cycle → 0/1).
        self.error_trace = None
        self.ops_sent = 0
        self.results_dropped = 0
        self.protocol_errors = []
        self._loop = None
        self._wall0 = time.perf_counter()
        self._cycle0 = None
        self._accepted_before = 0

    async def _cycle_loop(self):
        rise, fall = RisingEdge(self.dut.clk), FallingEdge(self.dut.clk)
        a, b, d = self.a, self.b, self.d
        self.cycle = int(get_sim_time("ns") // CLOCK_PERIOD_NS)
        while True:
            await rise
            a.drive()
            b.drive()
            d.drive()
            await fall
            cycle = self.cycle = self.cycle + 1
            took_a = a.sample(cycle)
            took_b = b.sample(cycle)
            # architecture.md §6: a_ready and b_ready rise together, only when both inputs
            # are valid; an operation is one A and one B transfer on the same edge.
            if a.ready_seen != b.ready_seen or (a.ready_seen and not (a.valid_hi
                                                                       and b.valid_hi)):
                self.protocol_errors.append(
                    f"cycle {cycle}: a_ready={int(a.ready_seen)} b_ready={int(b.ready_seen)} "
                    f"a_valid={int(a.valid_hi)} b_valid={int(b.valid_hi)}")
            elif took_a != took_b:
                self.protocol_errors.append(f"cycle {cycle}: A and B transfers differ")
            d.sample(cycle)
            if self.error_trace is not None:
                self.error_trace[cycle] = int(self.dut.error.value)

    async def reset(self, cycles=2, *, probe=True):
        """Synchronous reset for ``cycles`` cycles, dropping everything queued and in flight.

        Results the core delivered before the reset must match the head of the prediction;
        the rest of the prediction is discarded. Checks that the sticky error is low after.
        With ``probe``, ``a_valid``, ``b_valid`` and ``d_ready`` are held high during the
        reset and ``a_ready``, ``b_ready`` and ``d_valid`` must stay low (no transfer can
        happen in a reset cycle, docs/hw.md).
        """
        clk = self.dut.clk
        await RisingEdge(clk)
        if self._loop is not None:
            self._loop.cancel()
        # Inputs idle and d_ready low during reset: nothing transfers on a reset edge.
        self.a.restart()
        self.b.restart()
        self.d.restart(ready=False)
        self.dut.rst.value = 1
        dut = self.dut
        if probe:
            # Offer both inputs and take D throughout the reset: nothing may transfer.
            dut.a_valid.value = dut.b_valid.value = dut.d_ready.value = 1
        for _ in range(cycles):
            if probe:
                await FallingEdge(clk)
                busy = {name: int(getattr(dut, name).value)
                        for name in ("a_ready", "b_ready", "d_valid")}
                if any(busy.values()):
                    self.protocol_errors.append(
                        f"during reset: {', '.join(f'{k}={v}' for k, v in busy.items())}")
            await RisingEdge(clk)
        self.dut.rst.value = 0
        if probe:
            dut.a_valid.value = dut.b_valid.value = dut.d_ready.value = 0
        self._accepted_before += self.a.accepted
        self.a.accept_cycles.clear()
        self.b.accept_cycles.clear()
        self.results_dropped += self.scoreboard.flush()
        self.model.reset()
        self.d.restart()
        await FallingEdge(clk)
        if self._cycle0 is None:
            self._cycle0 = int(get_sim_time("ns") // CLOCK_PERIOD_NS)
        self._loop = cocotb.start_soon(self._cycle_loop())
        assert not int(self.dut.error.value), "sticky error is high right after reset"

    def send(self, batch, *, constant=False):
        """Predict ``batch`` with the model and queue it on the A and B drivers.

        ``constant``: the batch is not random stimulus (the wrap chain); its results are
        counted apart (:class:`Scoreboard`)."""
        results, emitters = self.model.predict(batch)
        packed = pack_d(self.config, np.stack([r.d for r in results])) if results else []
        errors = [bool(r.error) for r in results]
        # Operations per result: those since the previous result (or the batch start).
        ops_per = np.diff(np.concatenate([[-1], emitters])).tolist()
        tags = (emitters + self.ops_sent).tolist()
        self.scoreboard.expect(packed, errors, ops_per, tags, constant=constant)
        a_items = pack_a(self.config, batch)
        if not self.config.sparse:
            a_items = [(values, first, last) for values, _, first, last in a_items]
        self.a.send(a_items)
        self.b.send([(data,) for data in pack_b(self.config, batch)])
        self.ops_sent += len(batch)

    async def drain(self, timeout_cycles=None):
        """Wait until every queued operation is accepted and every predicted result checked;
        then check the sticky error against the model."""
        if timeout_cycles is None:
            outstanding = len(self.a.queue) + len(self.scoreboard.expected)
            timeout_cycles = 50 * outstanding + 1000

        async def settled():
            await self.a.idle.wait()
            await self.b.idle.wait()
            await self.scoreboard.wait_empty()

        try:
            await with_timeout(settled(), timeout_cycles * CLOCK_PERIOD_NS, "ns")
        except SimTimeoutError:
            raise AssertionError(
                f"drain timed out after {timeout_cycles} cycles: {len(self.a.queue)} A and "
                f"{len(self.b.queue)} B items queued, {len(self.scoreboard.expected)} results "
                f"outstanding") from None
        await FallingEdge(self.dut.clk)
        sticky = int(self.dut.error.value)
        assert sticky == int(self.model.sticky), (
            f"sticky error is {sticky}, model says {int(self.model.sticky)}")

    def stats(self):
        cycles = int(get_sim_time("ns") // CLOCK_PERIOD_NS) - (self._cycle0 or 0)
        wall = time.perf_counter() - self._wall0
        sb = self.scoreboard
        return {
            "ops_accepted": self._accepted_before + self.a.accepted,
            "ops_checked": sb.ops_checked,
            "random_ops_checked": sb.random_ops_checked,
            "results_checked": sb.results_checked,
            "constant_results_checked": sb.constant_results_checked,
            "results_dropped_by_reset": self.results_dropped,
            "mismatches": sb.mismatches,
            "cycles": cycles,
            "wall_s": round(wall, 3),
            "ops_per_s": round(sb.ops_checked / wall, 1) if wall else 0.0,
            "seed": self.seed,
        }

    def finish(self, name):
        """Stop, check that nothing went wrong, log and record the figures; returns them."""
        if self._loop is not None:
            self._loop.cancel()
            self._loop = None
        stats = self.stats()
        record_summary(name, self.config, stats)
        self.log.info("%s: %s", name, stats)
        errors = self.protocol_errors + self.d.protocol_errors
        assert not errors, "stream protocol violations:\n" + "\n".join(errors[:10])
        assert self.scoreboard.mismatches == 0, (
            f"{self.scoreboard.mismatches} mismatches (replay with SEED={self.seed}):\n"
            + "\n".join(self.scoreboard.failures))
        return stats


def record_summary(name, config, stats):
    """Add one test's figures to the JSON summary named by ``TB_SUMMARY`` (if set)."""
    path = os.environ.get("TB_SUMMARY")
    if not path:
        return
    path = pathlib.Path(path)
    summary = json.loads(path.read_text()) if path.exists() else {"config": config.name,
                                                                  "tests": {}}
    summary["tests"][name] = stats
    totals = collections.Counter()
    for entry in summary["tests"].values():
        for key in ("ops_checked", "random_ops_checked", "results_checked",
                    "constant_results_checked", "mismatches", "cycles", "ops_accepted"):
            totals[key] += entry[key]
        totals["wall_s"] += entry["wall_s"]
    summary["totals"] = dict(totals)
    path.write_text(json.dumps(summary, indent=1, sort_keys=True))
