"""Writes and orchestration of the greg app (<entity>_<verb>, keyword-only)."""
