"""Hazard cases: the judgment-standard catalogue, rectification, closure, re-check, escalation."""
