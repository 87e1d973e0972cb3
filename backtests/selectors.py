"""Reads of the backtests app for views, API, tasks and commands."""
