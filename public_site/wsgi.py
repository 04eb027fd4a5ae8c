"""WSGI entry point: ``gunicorn public_site.wsgi:app``."""

from core import logs, memory
from core.settings import load
from public_site import create_app

memory.limit_malloc_arenas()  # see core/memory.py: worker memory stays flat
_settings = load()
logs.configure(_settings.log_level)
app = create_app(_settings)
