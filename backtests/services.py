"""Writes and orchestration of the backtests app (<entity>_<verb>, keyword-only)."""
