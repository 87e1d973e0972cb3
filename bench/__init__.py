"""Benchmarks (`make bench` runs each script; a package so mypy tells bench/greg.py from greg)."""
