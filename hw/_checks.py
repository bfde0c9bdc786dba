"""Parameter checks shared by the blocks' constructors (one message format everywhere)."""

from .config import DSP_OPTIONS, SUPPORTED_PATTERNS

__all__ = ["check_count", "check_width", "check_pattern", "check_dsp_option"]


def check_count(name, value, *, minimum=1):
    """Raise unless ``value`` is an integer of at least ``minimum``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")


def check_width(name, value):
    """Raise unless ``value`` is a signed operand width (2 or more bits)."""
    check_count(name, value, minimum=2)


def check_pattern(n, m):
    """Raise unless ``n:m`` is one of the supported N:M patterns."""
    if (n, m) not in SUPPORTED_PATTERNS:
        raise ValueError(f"n:m must be one of "
                         f"{', '.join(f'{n}:{m}' for n, m in SUPPORTED_PATTERNS)}, "
                         f"not {n}:{m}")


def check_dsp_option(dsp):
    """Raise unless ``dsp`` is one of :data:`hw.config.DSP_OPTIONS`."""
    if dsp not in DSP_OPTIONS:
        raise ValueError(f"dsp must be one of {', '.join(repr(o) for o in DSP_OPTIONS)}, "
                         f"not {dsp!r}")
