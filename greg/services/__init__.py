"""Writes and orchestration of the greg app (<entity>_<verb>, keyword-only)."""

from greg.services.controls import (
    GregSettingsError,
    calibration_update,
    greg_settings_update,
)

__all__ = ["GregSettingsError", "calibration_update", "greg_settings_update"]
