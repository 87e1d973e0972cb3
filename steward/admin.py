"""Admin registrations of the steward app."""
