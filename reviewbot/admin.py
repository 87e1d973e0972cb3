"""Admin registrations of the reviewbot app."""
