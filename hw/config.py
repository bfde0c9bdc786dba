"""Elaboration parameters of the sparse MMA core, validated once and shared.

``hw/`` elaborates from a :class:`CoreConfig`, ``tb/`` packs its stimulus with the
derived widths, and the synthesis flow names its runs after it. ``golden/`` never
imports this module: it takes the same numbers as plain arguments.
"""

from dataclasses import dataclass

from amaranth.utils import ceil_log2

__all__ = ["CoreConfig", "ConfigError"]

#: Widths a user can sensibly ask for; beyond these the multipliers stop mapping
#: onto FPGA DSP blocks and the golden model's int64 headroom shrinks.
MAX_OPERAND_WIDTH = 32
MAX_ACC_WIDTH = 64
#: The N:M patterns the core is verified with.
SUPPORTED_PATTERNS = ((1, 2), (2, 4), (4, 8))
#: How the multipliers are built: ``"generic"`` (plain ``*``, the synthesis tool maps it) or
#: ``"ecp5"`` (a registered Lattice ECP5 ``MULT18X18D`` instance, ``hw/multiplier.py``).
DSP_OPTIONS = ("generic", "ecp5")
#: Operand widths one ``MULT18X18D`` takes, and the pipeline depth whose ``opnd`` and ``prod``
#: stages become its input and output registers.
ECP5_MAX_OPERAND_WIDTH = 18
ECP5_MIN_PIPELINE = 5
#: The pipeline depth from which the core writes its output FIFO from the accumulator
#: registers (stage ``result``, docs/hw.md) rather than from the accumulate adders.
RESULT_STAGE_PIPELINE = 7
#: Operand arithmetic: ``"int"`` (signed integers) or floating point with fp32 accumulation
#: (docs/fp.md): IEEE binary16 or bfloat16 operands, 16-bit patterns on the A and B ports.
DTYPES = ("int", "fp16", "bf16")
#: Operand and accumulator widths of the floating-point cores, and the most extra alignment
#: bits (``fp_guard``) one can ask for.
FP_OPERAND_WIDTH = 16
FP_ACC_WIDTH = 32
MAX_FP_GUARD = 8


class ConfigError(ValueError):
    """An elaboration parameter that the core cannot be built with."""


@dataclass(frozen=True)
class CoreConfig:
    """Parameters of one sparse (or dense baseline) MMA core.

    Parameters
    ----------
    tile_m, tile_n, tile_k : int
        Tile operation shape per cycle: ``tile_m`` rows of A, ``tile_n`` columns of B,
        ``tile_k`` dense-equivalent elements of K. ``tile_k`` is a multiple of ``m``.
    a_width, b_width : int
        Signed two's complement widths of A (weights) and B (activations).
    acc_width : int
        Accumulator width; sums wrap modulo ``2**acc_width``.
    n, m : int
        The N:M pattern: ``n`` kept elements in every group of ``m`` along K.
    pipeline : int
        Register stages between the operand inputs and the accumulators (at least 1).
    sparse : bool
        ``False`` builds the dense baseline: the same ``tile_m * tile_n * kept_k``
        multipliers, no metadata decoder and no operand selectors.
    dsp : str
        ``"generic"`` (default): each product is a plain multiply that synthesis maps.
        ``"ecp5"``: each product is a Lattice ``MULT18X18D`` instance whose input and output
        registers are the ``opnd`` and ``prod`` stages (``hw/multiplier.py``), and register
        copies that must stay apart are ``TRELLIS_FF`` instances (``hw/fanout.py``); needs
        operand widths of at most 18 and ``pipeline`` of at least 5, and the same latency.
    dtype : str
        ``"int"`` (default): signed integers as above. ``"fp16"`` or ``"bf16"``: floating-point
        operands with fp32 accumulation in the block arithmetic of ``docs/fp.md``
        (``hw/fp_dot.py``); ``a_width`` and ``b_width`` are then 16 and ``acc_width`` 32 (the
        integer defaults 8, 8 and 32 are replaced; other values are an error), ``dsp`` is
        ``"generic"``.
    fp_guard : int
        Extra alignment bits of the floating-point block (window ``24 + fp_guard`` bits),
        0 … 8; 0 (default) for integer cores.

    Raises
    ------
    ConfigError
        If a parameter is out of range; the message names it.
    """

    tile_m: int = 4
    tile_n: int = 4
    tile_k: int = 16
    a_width: int = 8
    b_width: int = 8
    acc_width: int = 32
    n: int = 2
    m: int = 4
    pipeline: int = 1
    sparse: bool = True
    dsp: str = "generic"
    dtype: str = "int"
    fp_guard: int = 0

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(repr(d) for d in DTYPES)}, "
                              f"not {self.dtype!r}")
        if self.dtype != "int":
            self._fp_widths()
        for name in ("tile_m", "tile_n", "tile_k", "a_width", "b_width", "acc_width",
                     "n", "m", "pipeline"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"{name} must be an integer, not {value!r}")
            if value < 1:
                raise ConfigError(f"{name} must be at least 1, not {value}")
        if not isinstance(self.sparse, bool):
            raise ConfigError(f"sparse must be a bool, not {self.sparse!r}")
        if (self.n, self.m) not in SUPPORTED_PATTERNS:
            raise ConfigError(f"n:m must be one of "
                              f"{', '.join(f'{n}:{m}' for n, m in SUPPORTED_PATTERNS)}, "
                              f"not {self.n}:{self.m}")
        if self.tile_k % self.m:
            raise ConfigError(f"tile_k must be a multiple of m={self.m}, not {self.tile_k}")
        for name in ("a_width", "b_width"):
            if getattr(self, name) < 2 or getattr(self, name) > MAX_OPERAND_WIDTH:
                raise ConfigError(f"{name} must be between 2 and {MAX_OPERAND_WIDTH}, "
                                  f"not {getattr(self, name)}")
        if self.acc_width < 2 or self.acc_width > MAX_ACC_WIDTH:
            raise ConfigError(f"acc_width must be between 2 and {MAX_ACC_WIDTH}, "
                              f"not {self.acc_width}")
        if self.dsp not in DSP_OPTIONS:
            raise ConfigError(f"dsp must be one of "
                              f"{', '.join(repr(o) for o in DSP_OPTIONS)}, not {self.dsp!r}")
        if self.dsp == "ecp5":
            for name in ("a_width", "b_width"):
                if getattr(self, name) > ECP5_MAX_OPERAND_WIDTH:
                    raise ConfigError(f"{name} must be at most {ECP5_MAX_OPERAND_WIDTH} with "
                                      f"dsp='ecp5', not {getattr(self, name)}")
            if self.pipeline < ECP5_MIN_PIPELINE:
                raise ConfigError(f"pipeline must be at least {ECP5_MIN_PIPELINE} with "
                                  f"dsp='ecp5', not {self.pipeline}")
        if not isinstance(self.fp_guard, int) or isinstance(self.fp_guard, bool):
            raise ConfigError(f"fp_guard must be an integer, not {self.fp_guard!r}")
        if self.dtype == "int" and self.fp_guard:
            raise ConfigError(f"fp_guard applies to fp16 and bf16 only, not dtype='int' "
                              f"(fp_guard={self.fp_guard})")
        if not 0 <= self.fp_guard <= MAX_FP_GUARD:
            raise ConfigError(f"fp_guard must be between 0 and {MAX_FP_GUARD}, "
                              f"not {self.fp_guard}")

    def _fp_widths(self):
        """Operand and accumulator widths of a floating-point core: the integer defaults are
        replaced, any other value is an error."""
        for name, default, want in (("a_width", 8, FP_OPERAND_WIDTH),
                                    ("b_width", 8, FP_OPERAND_WIDTH),
                                    ("acc_width", 32, FP_ACC_WIDTH)):
            value = getattr(self, name)
            if value == default:
                object.__setattr__(self, name, want)
            elif value != want:
                raise ConfigError(f"{name} must be {want} with dtype={self.dtype!r}, "
                                  f"not {value!r}")
        if self.dsp != "generic":
            raise ConfigError(f"dsp must be 'generic' with dtype={self.dtype!r}, "
                              f"not {self.dsp!r}")

    # --- derived sizes -------------------------------------------------------------------------

    @property
    def groups(self):
        """Groups of ``m`` along K in one tile operation."""
        return self.tile_k // self.m

    @property
    def kept_k(self):
        """Kept (multiplied) elements of each A row per tile operation: ``tile_k * n / m``."""
        return self.groups * self.n

    @property
    def index_width(self):
        """Bits of one kept element's index within its group: ``ceil(log2 m)``."""
        return ceil_log2(self.m)

    @property
    def meta_width(self):
        """Metadata bits of one A row per tile operation."""
        return self.kept_k * self.index_width

    @property
    def b_rows(self):
        """Rows of the B tile: ``tile_k`` for the sparse core, ``kept_k`` for the dense one."""
        return self.tile_k if self.sparse else self.kept_k

    @property
    def multipliers(self):
        """Multipliers in the array; equal for a sparse core and its dense baseline."""
        return self.tile_m * self.tile_n * self.kept_k

    @property
    def macs_per_op(self):
        """Dense-equivalent multiply-accumulates one tile operation performs."""
        return self.tile_m * self.tile_n * (self.tile_k if self.sparse else self.kept_k)

    @property
    def latency(self):
        """Cycles from accepting an operation to offering its result on D: ``pipeline + 1``.

        N back-to-back operations with no back-pressure complete in ``N + latency`` cycles
        (``docs/hw.md``).
        """
        return self.pipeline + 1

    @property
    def name(self):
        """A stable identifier, used for Verilog module names and build folders."""
        kind = f"sparse{self.n}of{self.m}" if self.sparse else "dense"
        if self.dtype != "int":
            return (f"{kind}_{self.tile_m}x{self.tile_n}x{self.tile_k}_{self.dtype}"
                    f"g{self.fp_guard}_p{self.pipeline}")
        return (f"{kind}_{self.tile_m}x{self.tile_n}x{self.tile_k}_a{self.a_width}"
                f"b{self.b_width}acc{self.acc_width}_p{self.pipeline}"
                f"{'' if self.dsp == 'generic' else '_' + self.dsp}")
