"""``qingling registry …``: facility import and export from the command line."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
