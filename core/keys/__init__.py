"""Key groups, personal keys, grants and signed public key records (DESIGN.md "Key hierarchy")."""
