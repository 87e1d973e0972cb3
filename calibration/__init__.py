"""Calibration of synthetic pricing against exchange marks; harvester."""
