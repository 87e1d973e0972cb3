"""Backtesting: simulator, runs, metrics, grid search, training data."""
