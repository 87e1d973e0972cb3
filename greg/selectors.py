"""Reads of the greg app for views, API, tasks and commands."""
