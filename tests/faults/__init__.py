"""Fault tests (issue 9): the public site under gunicorn on loopback while workers are killed,
the database stops and comes back, Redis is gone or the disk is full. See
``docs/deployment.md`` ("Faults") for what each proves and how to run them."""
