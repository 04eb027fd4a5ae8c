"""gunicorn configuration for the staff site (staff_site.wsgi:app), on the internal network.

    gunicorn -c deploy/gunicorn-staff.conf.py staff_site.wsgi:app

The staff site may log addresses (login throttling per address needs them); set
QINGLING_PROXY_COUNT=1 so it reads the address nginx puts in X-Forwarded-For.
"""

bind = "127.0.0.1:8001"
workers = 2
worker_class = "gthread"
threads = 4
timeout = 120  # exports can take a while
graceful_timeout = 30
max_requests = 2000
max_requests_jitter = 200

accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(L)ss'
errorlog = "-"
loglevel = "info"
forwarded_allow_ips = "127.0.0.1"
worker_tmp_dir = "/dev/shm"
