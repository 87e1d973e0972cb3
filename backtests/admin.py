"""Admin registrations of the backtests app."""
