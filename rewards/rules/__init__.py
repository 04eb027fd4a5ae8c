"""Reward rule sets as versioned data, and the calculation of a reward under them."""
