"""Models of the greg app."""
