"""Reads of the steward app for views, API, tasks and commands."""
