"""The HTTP plumbing around the routes: what guards, limits and carries a request.

::

    middleware.py  request metrics, the body size limit, JSON on writes, CORS
    auth.py        bearer keys: who asks, and the admin key check
    ratelimit.py   token buckets per key or address
    sse.py         the server-sent event stream of an answer
    server.py      ``syllabus serve``: uvicorn guarded against clients holding connections
"""
