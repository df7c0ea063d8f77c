"""Crispin server layer."""
