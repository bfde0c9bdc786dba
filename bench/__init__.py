"""Benchmarks and reports (scripts, not timed tests); outputs go under reports/."""
