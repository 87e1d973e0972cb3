"""Telegram code-review bot."""
