"""Models of the backtests app."""
