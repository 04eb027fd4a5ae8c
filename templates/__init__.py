"""Jinja templates of both sites: ``public_site/``, ``staff_site/``, ``includes/``, ``emails/``."""

from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parent
