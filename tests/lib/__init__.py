"""Helpers for the sipmasq end-to-end tests (see tests/conftest.py)."""
