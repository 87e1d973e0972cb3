"""Writes and orchestration of the calibration app (<entity>_<verb>, keyword-only)."""
