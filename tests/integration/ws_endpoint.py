"""A tiny API Gateway `@connections` endpoint on loopback for integration tests.

apigatewaymanagementapi's post_to_connection is `POST {endpoint}/@connections/{id}` with the frame
as the body. Known ids get 200 and their frames are kept (with arrival time); any other id gets
410 GoneException, exactly what API Gateway answers for a closed socket (moto never does).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote


class ConnectionsEndpoint:
    def __init__(self, live: set[str] | None = None) -> None:
        self.live: set[str] = set(live or ())
        self.frames: dict[str, list[tuple[float, dict[str, Any]]]] = {}
        self.requests = 0
        self.posts: dict[str, int] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                cid = unquote(self.path.rsplit("/@connections/", 1)[-1])
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.requests += 1
                if cid not in owner.live:
                    payload = json.dumps({"message": "Gone"}).encode()
                    self.send_response(410)
                    self.send_header("x-amzn-ErrorType", "GoneException")
                else:
                    owner.posts[cid] = owner.posts.get(cid, 0) + 1
                    message = json.loads(body)    # an "updates" envelope carries one run's frames
                    unwrapped = message["frames"] if message.get("type") == "updates" else [message]
                    owner.frames.setdefault(cid, []).extend((time.time(), f) for f in unwrapped)
                    payload = b"{}"
                    self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ConnectionsEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def of(self, cid: str, kind: str | None = None) -> list[dict[str, Any]]:
        return [f for _, f in self.frames.get(cid, []) if kind is None or f["type"] == kind]
