"""Production serving: gevent workers hold thousands of event streams without blocking agent polls.

Run: gunicorn -c gunicorn.conf.py wsgi:app
The sync worker must not be used: one open event stream would block a whole worker.
"""
import multiprocessing
import os

bind = os.environ.get("VECTORFLOW_BIND", "127.0.0.1:5000")
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_connections = int(os.environ.get("VECTORFLOW_WORKER_CONNECTIONS", "4000"))
timeout = 30            # worker-liveness watchdog; under gevent it does not limit stream length
graceful_timeout = 10   # streams never finish; clients reconnect with Last-Event-ID
keepalive = 75
preload_app = False     # gevent must patch before the app imports ssl and friends
max_requests = 0        # recycling a worker would drop all its streams at once
accesslog = os.environ.get("VECTORFLOW_ACCESS_LOG") or None
errorlog = "-"
# gunicorn 24+ opens a control socket at ~/.gunicorn/gunicorn.ctl, one path for every server of
# the user: a second server (the demo beside the tests, a benchmark) would take it over.
# VectorFlow needs none of its commands; older gunicorn ignores the setting.
control_socket_disable = True


def post_worker_init(worker):
    """Start the background sweeps (health, scheduled maintenance end) in each worker."""
    try:
        from vectorflow.sweeper import start_for_wsgi_app
    except ImportError:
        return
    start_for_wsgi_app(worker.wsgi)
