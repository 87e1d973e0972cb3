"""Admin registrations of the greg app."""
