"""Reads of the trading app for views, API, tasks and commands."""
