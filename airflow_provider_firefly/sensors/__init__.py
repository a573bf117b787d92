"""Sensors of the Firefly provider."""
