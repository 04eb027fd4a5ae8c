"""gunicorn configuration for the public site (public_site.wsgi:app), behind nginx.

    gunicorn -c deploy/gunicorn-public.conf.py public_site.wsgi:app

The public site must never record a client address: gunicorn's access log is off, its error log
carries no request lines, and nginx in front keeps no access log either (nginx-public.conf).
Settings come from QINGLING_* variables (an EnvironmentFile in the systemd unit); this host gets
only <data dir>/secrets/public/.
"""

bind = "127.0.0.1:8000"  # nginx proxies to this; never expose gunicorn directly
workers = 4
worker_class = "gthread"
threads = 4
timeout = 60
graceful_timeout = 30
max_requests = 2000
max_requests_jitter = 200

accesslog = None  # no access log: it would hold client addresses and query strings
errorlog = "-"
loglevel = "warning"
capture_output = False
forwarded_allow_ips = ""  # never trust X-Forwarded-For: the public site does not want addresses
proxy_allow_ips = ""
# Request bodies are spooled in memory by Werkzeug up to its limit; keep worker temp files on a
# RAM file system too.
worker_tmp_dir = "/dev/shm"
limit_request_line = 8190
