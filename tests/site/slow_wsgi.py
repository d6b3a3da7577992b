"""A WSGI application for tests of the web server's settings: it answers after a pause with the id of
the process that served it (tests/site/test_serve.py)."""

import os
import time


def application(environ, start_response):
    time.sleep(float(environ.get("QUERY_STRING") or 0.5))
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
