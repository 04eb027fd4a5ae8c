"""WSGI entry point: ``gunicorn public_site.wsgi:app``."""

from core import logs
from core.settings import load
from public_site import create_app

_settings = load()
logs.configure(_settings.log_level)
app = create_app(_settings)
