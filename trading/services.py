"""Writes and orchestration of the trading app (<entity>_<verb>, keyword-only)."""
