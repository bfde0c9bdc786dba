"""Exceptions of the golden model.

Every error the golden model raises on bad input is a :class:`GoldenError`, so callers can
catch the project's errors as a family; each concrete class also derives from the built-in
exception that fits (:class:`ValueError` or :class:`TypeError`), so generic code that
catches those keeps working. Messages name the argument at fault and, for data errors, the
row and group (or row and column) of the first offending element.
"""

__all__ = [
    "GoldenError",
    "ParameterError",
    "ShapeError",
    "DTypeError",
    "DataError",
    "WidthError",
    "NotNMSparseError",
    "MetadataError",
]


class GoldenError(Exception):
    """Base class of every error raised by :mod:`golden` on bad input."""


class ParameterError(GoldenError, ValueError):
    """A scalar parameter is out of range: ``n``/``m``, a tile size, ``quality``, ..."""


class ShapeError(GoldenError, ValueError):
    """Array shapes do not line up (K not a multiple of m, B rows ≠ K, ...)."""


class DTypeError(GoldenError, TypeError):
    """An array has the wrong dtype (floats where integers are required, ...)."""


class DataError(GoldenError, ValueError):
    """An array holds a value the operation cannot handle (NaN magnitudes, ...)."""


class WidthError(GoldenError, ValueError):
    """A bit width is invalid, or an integer does not fit its declared signed width."""


class NotNMSparseError(GoldenError, ValueError):
    """A group of ``m`` elements holds more than ``n`` non-zeros."""


class MetadataError(GoldenError, ValueError):
    """Metadata is malformed: an invalid group, non-zero padding bits."""
