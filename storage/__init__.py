"""Crispin storage layer."""
