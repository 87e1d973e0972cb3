"""Models of the calibration app."""
