"""Writes and orchestration of the reviewbot app (<entity>_<verb>, keyword-only)."""
