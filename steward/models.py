"""Models of the steward app."""
