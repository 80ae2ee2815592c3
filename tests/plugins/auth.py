"""Fixtures of the auth domain (factories and helpers)."""
