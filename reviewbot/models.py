"""Models of the reviewbot app."""
