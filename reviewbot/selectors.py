"""Reads of the reviewbot app for views, API, tasks and commands."""
