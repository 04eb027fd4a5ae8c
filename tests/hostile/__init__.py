"""Hostile input: one corpus pushed through every entry point, and fuzzing of the parsers."""
