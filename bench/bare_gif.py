"""The ceiling of the load run (bench/load_run.py): a bare WSGI app answering the pixel's GIF.

    gunicorn bench.bare_gif --workers 3   # the same configuration as the app under test

It does what no web application can beat: no routing, no token, no queue, the 43 bytes and two
headers; what our pixel reaches under the same gunicorn is printed as a share of it.
"""

import base64

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
HEADERS = [("Content-Type", "image/gif"), ("Content-Length", str(len(PIXEL)))]


def application(environ, start_response):
    start_response("200 OK", HEADERS)
    return [PIXEL]
