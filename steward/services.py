"""Writes and orchestration of the steward app (<entity>_<verb>, keyword-only)."""
