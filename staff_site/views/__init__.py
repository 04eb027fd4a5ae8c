"""Blueprints of the staff site, one module per subject."""
