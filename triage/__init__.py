"""Verification of tips: the triage workflow, duplicates and messages to the reporter."""
