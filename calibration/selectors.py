"""Reads of the calibration app for views, API, tasks and commands."""
