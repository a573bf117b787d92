"""Tests of the local Firefly + IMS emulator."""
