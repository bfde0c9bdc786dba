"""Amaranth HDL of sparsecore."""
