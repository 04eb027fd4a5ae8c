"""Tests of the crypto package."""
