"""Fixtures of the projects domain (factories and helpers)."""
