"""The audit trail: append-only, hash-chained records written by the services."""
