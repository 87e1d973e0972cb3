"""App config for calibration."""

from django.apps import AppConfig


class CalibrationConfig(AppConfig):
    """Calibration of synthetic pricing against exchange marks; harvester."""

    name = "calibration"
    verbose_name = "Calibration"
    default_auto_field = "django.db.models.BigAutoField"
