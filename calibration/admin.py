"""Admin registrations of the calibration app."""
