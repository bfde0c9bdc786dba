"""Formal checks of the hardware: property harnesses (Assert/Assume/Cover on ports), a
SymbiYosys runner and the job list behind ``make formal`` (docs/verification.md)."""
