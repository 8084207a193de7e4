"""What the stand-in servers share: a threaded HTTP server on 127.0.0.1 that starts and
stops with `with`, knobs changeable while it runs, calls counted, and a queue of faults
that hit the next calls."""

import threading
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Faults:
    """The next calls answer with these faults, in order (`add(kind, count)`)."""

    def __init__(self):
        self._lock, self._queue = threading.Lock(), deque()

    def add(self, kind, count=1):
        with self._lock:
            self._queue.extend([kind] * count)

    def next(self, kinds=None):
        """The next fault, when it is one of `kinds` (any, when None); None otherwise."""
        with self._lock:
            if self._queue and (kinds is None or self._queue[0] in kinds):
                return self._queue.popleft()
        return None


class StandInServer:
    """Base of a stand-in: subclasses set `self.config` (a dataclass of knobs), answer
    requests in `_serve(handler, method)`, and call `_listen(port)`."""

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                standin._serve(self, "GET")

            def do_POST(self):
                standin._serve(self, "POST")

        return Handler

    def _serve(self, handler, method):
        raise NotImplementedError

    def _listen(self, port):
        self.faults = Faults()
        self._calls_lock = threading.Lock()
        self._calls = Counter()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True

    def count_call(self, name):
        with self._calls_lock:
            self._calls[name] += 1

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def configure(self, **knobs):
        for name, value in knobs.items():
            if not hasattr(self.config, name):
                raise ValueError(f"unknown knob {name}")
            setattr(self.config, name, value)

    def stats(self):
        """Calls counted by endpoint."""
        with self._calls_lock:
            return dict(self._calls)

    def start(self):
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
