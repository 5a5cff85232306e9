"""A lean stand-in for LINE's Messaging API, for benchmarks only.

Why: ``webhook_ingest.py`` makes the daemon send one reply API call per
webhook. The behavioural fake of ``tests/fakes/line.py`` (Tornado request
machinery) costs ~0.5 ms of CPU per call, so at 4000-5000 replies/s it would
need two cores of the very machine that runs the daemon and the load
generator, and the benchmark would end up measuring the fake. The real API
does not run on our CPU, so this one is a bare ``asyncio.Protocol`` doing as
little as possible per call: ~35 µs of CPU each at 1000-5000 calls/s, of which
~6 µs is this module and the rest the stdlib event loop and its syscalls.
Tests keep using ``tests/fakes/line.py``.

What it does: HTTP/1.1 keep-alive on 127.0.0.1 (ephemeral port), one request
at a time per connection (extra pipelined bytes wait in the buffer, so
responses leave in request order). ``POST /v2/bot/message/reply`` and
``/push`` check ``Authorization: Bearer <token>`` (401) and the JSON body
(400), accept any reply token, and answer ``200 {}`` after ``delay`` seconds
via ``loop.call_later``; a repeated ``X-Line-Retry-Key`` on push → 409.
Errors get the same delay: a rejection is a round trip too. ``GET
/_fake/stats`` → ``{"delivered", "replies", "pushes", "bad"}`` at once, where
``bad`` counts every request not delivered (4xx). Anything else → 404; a
chunked or malformed request → 400 and the connection is closed.

    python benchmarks/_line_api.py 0.05 TOKEN      # prints "PORT <n>"
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import NamedTuple, Optional

MAX_HEAD = 64 * 1024
MAX_BODY = 8 * 1024 * 1024
REPLY_PATH = b"/v2/bot/message/reply"
PUSH_PATH = b"/v2/bot/message/push"
STATS_PATH = b"/_fake/stats"
REASONS = {200: b"OK", 400: b"Bad Request", 401: b"Unauthorized", 404: b"Not Found",
           409: b"Conflict"}
EMPTY = b"{}"
AUTH_FAILED = b'{"message":"Authentication failed"}'
BAD_BODY = b'{"message":"The request body has 1 error(s)"}'
DUPLICATE = b'{"message":"The retry key is already accepted"}'
NOT_FOUND = b'{"message":"Not found"}'


class Request(NamedTuple):
    method: bytes
    target: bytes
    headers: dict          # lower-cased name -> value, both bytes
    body: bytes
    keep_alive: bool


class BadRequest(Exception):
    """The bytes are not a request we can frame; answer 400 and close."""


# --------------------------------------------------------------------------- parsing

def parse(buffer: bytearray) -> Optional[Request]:
    """Take one complete request off the front of ``buffer``; None if incomplete."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_HEAD:
            raise BadRequest("header too large")
        return None
    lines = bytes(buffer[:end]).split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        raise BadRequest("bad request line")
    method, target, version = parts
    headers = parse_headers(lines[1:])
    # The daemon never sends chunked bodies, so not framing them is enough.
    if b"transfer-encoding" in headers:
        raise BadRequest("chunked bodies are not supported")
    length = content_length(headers)
    total = end + 4 + length
    if len(buffer) < total:
        return None
    body = bytes(buffer[end + 4:total])
    del buffer[:total]
    return Request(method, target, headers, body, keep_alive(version, headers))


def parse_headers(lines: list) -> dict:
    headers = {}
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon:
            raise BadRequest("bad header line")
        headers[name.strip().lower()] = value.strip()
    return headers


def content_length(headers: dict) -> int:
    try:
        length = int(headers.get(b"content-length", b"0"))
    except ValueError:
        raise BadRequest("bad Content-Length") from None
    if not 0 <= length <= MAX_BODY:
        raise BadRequest("bad Content-Length")
    return length


def keep_alive(version: bytes, headers: dict) -> bool:
    """HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 the reverse."""
    connection = headers.get(b"connection", b"").lower()
    if version == b"HTTP/1.1":
        return b"close" not in connection
    return b"keep-alive" in connection


def response(status: int, payload: bytes, keep: bool) -> bytes:
    close = b"" if keep else b"Connection: close\r\n"
    return (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"%s\r\n%s" % (status, REASONS[status], len(payload), close, payload))


# --------------------------------------------------------------------------- the API

class LineAPI:
    """Counters and routing, shared by every connection."""

    def __init__(self, delay: float, token: str) -> None:
        self.delay = delay
        self.authorization = b"Bearer " + token.encode()
        self.replies = 0
        self.pushes = 0
        self.bad = 0
        self.retry_keys: set = set()

    def handle(self, req: Request) -> tuple[int, bytes, bool]:
        """(status, JSON payload, whether the answer waits ``delay``)."""
        if req.method == b"POST" and req.target in (REPLY_PATH, PUSH_PATH):
            status, payload = self.message(req)
            delayed = True
        elif req.method == b"GET" and req.target == STATS_PATH:
            return 200, json.dumps(self.stats()).encode(), False
        else:
            status, payload, delayed = 404, NOT_FOUND, False
        if status != 200:
            self.bad += 1
        return status, payload, delayed

    def stats(self) -> dict:
        return {"delivered": self.replies + self.pushes, "replies": self.replies,
                "pushes": self.pushes, "bad": self.bad}

    def message(self, req: Request) -> tuple[int, bytes]:
        if req.headers.get(b"authorization") != self.authorization:
            return 401, AUTH_FAILED
        push = req.target == PUSH_PATH
        if not valid_body(req.body, "to" if push else "replyToken"):
            return 400, BAD_BODY
        if not push:
            self.replies += 1
            return 200, EMPTY
        key = req.headers.get(b"x-line-retry-key")
        if key is not None:
            if key in self.retry_keys:
                return 409, DUPLICATE
            self.retry_keys.add(key)
        self.pushes += 1
        return 200, EMPTY


def valid_body(body: bytes, recipient: str) -> bool:
    """A JSON object with a string ``recipient`` and a non-empty ``messages`` list."""
    try:
        data = json.loads(body)
    except ValueError:          # also covers invalid UTF-8
        return False
    return (isinstance(data, dict) and isinstance(data.get(recipient), str)
            and isinstance(data.get("messages"), list) and len(data["messages"]) > 0)


# --------------------------------------------------------------------------- connections

class Connection(asyncio.Protocol):
    """One client connection, serving its requests strictly one after another.

    HTTP/1.1 wants responses in request order; the daemon never pipelines, so
    instead of a response queue the next request simply waits in the buffer
    until the current answer has been written.
    """

    def __init__(self, api: LineAPI, loop: asyncio.AbstractEventLoop) -> None:
        self.api = api
        self.loop = loop
        self.buffer = bytearray()
        self.transport: Optional[asyncio.Transport] = None
        self.timer: Optional[asyncio.TimerHandle] = None    # set while an answer waits
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.timer is None:
            self.serve_next()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        # A pending answer would otherwise write to a dead transport.
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def serve_next(self) -> None:
        """Answer buffered requests until one has to wait or the buffer runs dry."""
        while self.timer is None and not self.closed:
            try:
                req = parse(self.buffer)
            except BadRequest:
                self.api.bad += 1
                self.send(response(400, BAD_BODY, False), False)
                return
            if req is None:
                return
            status, payload, delayed = self.api.handle(req)
            raw = response(status, payload, req.keep_alive)
            if delayed:
                self.timer = self.loop.call_later(self.api.delay, self.send_later, raw,
                                                  req.keep_alive)
            else:
                self.send(raw, req.keep_alive)

    def send_later(self, raw: bytes, keep: bool) -> None:
        self.timer = None
        self.send(raw, keep)
        self.serve_next()

    def send(self, raw: bytes, keep: bool) -> None:
        if self.closed:
            return
        self.transport.write(raw)
        if not keep:
            self.closed = True
            self.transport.close()


# --------------------------------------------------------------------------- main

async def serve(delay: float, token: str) -> None:
    loop = asyncio.get_running_loop()
    api = LineAPI(delay, token)
    # A deep backlog: wrk and the daemon open hundreds of connections at once.
    server = await loop.create_server(lambda: Connection(api, loop), "127.0.0.1", 0,
                                      backlog=1024)
    print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


def main(delay: float, token: str) -> None:
    """Serve on an ephemeral port, print ``PORT <n>`` and run until killed."""
    asyncio.run(serve(delay, token))


if __name__ == "__main__":
    main(float(sys.argv[1]), sys.argv[2])
