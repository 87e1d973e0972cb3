"""Admin registrations of the trading app."""
