"""NumPy golden model of sparsecore: formats, pruning and bit-exact arithmetic."""
