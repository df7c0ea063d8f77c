"""Crispin protocol layer."""
