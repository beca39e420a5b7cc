"""Benchmarks: programs that measure; they print a table and write JSON (see README)."""
