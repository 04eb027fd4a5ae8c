"""Rewards: the reward rules, the reward lifecycle, claims and payments."""
