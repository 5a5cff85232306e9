"""MediaStore: finished images served under signed, expiring URLs.

LINE and WhatsApp cannot receive image bytes from us; they fetch an HTTPS
URL (platforms.md §3 "Sending", §4 "Sending"). So a channel stores the image
here and sends ``media.public_base_url`` + the signed path this returns::

    {media.path}/{id}.{ext}?exp={unix}&sig={hex HMAC-SHA256(key, "{id}.{ext}:{exp}")}

Files live in ``state_dir/media/`` (directory 0700, files 0600) under random
128-bit hex ids. The signing key is HKDF-SHA256 of ``openclaw.admin_token``
with a fixed info string, or else a random 32-byte key created once in
``state_dir/media.key`` (0600), so URLs stay valid across restarts either way
(seed-connector.md "Image Delivery" loses them without an admin token).
Expired files are removed at start and by a periodic sweep.

:class:`MediaHandler` serves the files: bad name → 404 before touching the
disk, bad or missing signature → 403, expired → 410, unknown id → 404.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import time
from typing import Callable, Optional

import tornado.ioloop
import tornado.web
from openclaw_connector import log as logmod
from openclaw_connector.config import MediaConfig

log = logmod.get("media")

HKDF_INFO = b"openclaw-connector media url signing v1"
KEY_FILE = "media.key"
MEDIA_DIR = "media"
SWEEP_EVERY_SEC = 60.0

EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp",
              "image/gif": "gif", "video/mp4": "mp4", "video/webm": "webm"}
CONTENT_TYPES = {ext: ctype for ctype, ext in EXTENSIONS.items()}
NAME_RE = re.compile(r"([0-9a-f]{32})\.(png|jpg|webp|gif|mp4|webm)")


def hkdf_sha256(key_material: bytes, info: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869) with no salt, 32 bytes: the same key cryptography's HKDF
    derives, over stdlib ``hmac`` because importing cryptography cost ~6 MiB RSS of a
    ~41 MiB daemon (benchmarks/README.md, footprint)."""
    prk = hmac.new(b"\0" * hashlib.sha256().digest_size, key_material, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()     # T(1): 32 bytes


class MediaTooLarge(ValueError):
    """The image is over ``media.max_mb``; the channel sends a text instead."""


class MediaUnsupported(ValueError):
    """The content type is not one the platforms accept as an image."""


class MediaStore:
    """Stores images and signs their URLs; ``start()`` before ``put()``."""

    def __init__(self, cfg: MediaConfig, state_dir: str, admin_token: Optional[str], state=None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.dir = os.path.join(state_dir, MEDIA_DIR)
        self._state_dir = state_dir
        self._admin_token = admin_token
        self._state = state
        self._clock = clock
        self._key: Optional[bytes] = None
        self._sweeper: Optional[tornado.ioloop.PeriodicCallback] = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self._key = self._load_key()
        self.sweep()
        every = min(SWEEP_EVERY_SEC, max(1.0, float(self.cfg.ttl_sec)))
        self._sweeper = tornado.ioloop.PeriodicCallback(self._sweep_tick, every * 1000.0)
        self._sweeper.start()

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.stop()
            self._sweeper = None

    def _load_key(self) -> bytes:
        if self._admin_token:
            return hkdf_sha256(self._admin_token.encode("utf-8"), HKDF_INFO)
        path = os.path.join(self._state_dir, KEY_FILE)
        try:
            with open(path, "rb") as fh:
                key = fh.read()
            if len(key) == 32:
                return key
            log.warning("event=media_key_invalid path=%s; generating a new key "
                        "(earlier media URLs stop working)", path)
            os.unlink(path)
        except FileNotFoundError:
            pass
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        log.info("event=media_key_created path=%s (set openclaw.admin_token to derive "
                 "it instead)", path)
        return key

    # ------------------------------------------------------------------ storing
    @property
    def public(self) -> bool:
        """True when images can be delivered by URL (``media.public_base_url`` set)."""
        return bool(self.cfg.public_base_url)

    @property
    def max_bytes(self) -> int:
        return int(self.cfg.max_mb * 1024 * 1024)

    @property
    def max_video_bytes(self) -> int:
        """The cap for videos and animations (``media.max_video_mb``)."""
        return int(max(self.cfg.max_mb, getattr(self.cfg, "max_video_mb", 0)) * 1048576)

    def put(self, data: bytes, content_type: str, *, max_bytes: Optional[int] = None) -> str:
        """Store ``data`` and return its signed path and query (no host); ``max_bytes``
        (videos: ``media.max_video_mb``) replaces ``media.max_mb``."""
        if self._key is None:
            raise RuntimeError("MediaStore.put() before start()")
        if len(data) > (self.max_bytes if max_bytes is None else max_bytes):
            log.warning("event=media_too_large bytes=%d max_mb=%s", len(data),
                        self.cfg.max_mb)
            raise MediaTooLarge("image of %d bytes is over media.max_mb=%s" % (
                len(data), self.cfg.max_mb))
        ext = EXTENSIONS.get(content_type.split(";")[0].strip().lower())
        if ext is None:
            raise MediaUnsupported("cannot serve %s as an image" % content_type)
        name = "%s.%s" % (secrets.token_hex(16), ext)
        fd = os.open(os.path.join(self.dir, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                     0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        exp = int(self._clock()) + int(self.cfg.ttl_sec)
        return "%s/%s?exp=%d&sig=%s" % (self.cfg.path.rstrip("/"), name, exp,
                                       self.sign(name, exp))

    def url(self, data: bytes, content_type: str, *, max_bytes: Optional[int] = None) -> str:
        """The public URL for ``data``; raises if ``public_base_url`` is unset."""
        base = self.cfg.public_base_url
        if not base:
            raise RuntimeError("media.public_base_url is not set")
        return base.rstrip("/") + self.put(data, content_type, max_bytes=max_bytes)

    def sign(self, name: str, exp: int) -> str:
        assert self._key is not None
        return hmac.new(self._key, ("%s:%d" % (name, exp)).encode("ascii"),
                        hashlib.sha256).hexdigest()

    # ------------------------------------------------------------------ serving
    def check(self, name: str, exp: Optional[str], sig: Optional[str]) -> tuple[int, float]:
        """(status, seconds left) for a request; 200 means serve ``name``."""
        if not NAME_RE.fullmatch(name) or self._key is None:
            return 404, 0.0
        # isascii(): str.isdigit() is also true for "²", which int() refuses (a 500).
        if not exp or not sig or not exp.isascii() or not exp.isdigit() or len(exp) > 12:
            return 403, 0.0
        expected = self.sign(name, int(exp))
        try:
            good = hmac.compare_digest(expected.encode("ascii"), sig.encode("ascii"))
        except UnicodeEncodeError:
            good = False
        if not good:
            return 403, 0.0
        left = int(exp) - self._clock()
        if left <= 0:
            return 410, 0.0
        if not os.path.isfile(os.path.join(self.dir, name)):
            return 404, 0.0
        return 200, left

    def read(self, name: str) -> bytes:
        """The stored bytes (``name`` already validated by :meth:`check`)."""
        with open(os.path.join(self.dir, name), "rb") as fh:
            return fh.read()

    def _sweep_tick(self) -> None:
        self.sweep()     # PeriodicCallback wants a callback that returns nothing

    def sweep(self) -> int:
        """Delete files older than ``media.ttl_sec``; return how many went."""
        removed = 0
        cutoff = self._clock() - self.cfg.ttl_sec
        try:
            names = os.listdir(self.dir)
        except OSError:
            return 0
        for name in names:
            path = os.path.join(self.dir, name)
            try:
                if os.stat(path).st_mtime < cutoff:
                    os.unlink(path)
                    removed += 1
            except OSError:
                continue
        if removed:
            log.info("event=media_swept removed=%d", removed)
        return removed


class MediaHandler(tornado.web.RequestHandler):
    """``GET|HEAD {media.path}/{id}.{ext}?exp=..&sig=..`` → the image."""

    def initialize(self, media: MediaStore) -> None:
        self.media = media

    def set_default_headers(self) -> None:
        self.clear_header("Server")
        self.set_header("X-Content-Type-Options", "nosniff")

    async def get(self, name: str) -> None:
        await self._serve(name, body=True)

    async def head(self, name: str) -> None:
        await self._serve(name, body=False)

    async def _serve(self, name: str, *, body: bool) -> None:
        status, left = self.media.check(name, self.get_query_argument("exp", None),
                                        self.get_query_argument("sig", None))
        if status != 200:
            self.set_status(status)
            self.set_header("Cache-Control", "no-store")
            self.finish()
            return
        loop = tornado.ioloop.IOLoop.current()
        try:
            data = await loop.run_in_executor(None, self.media.read, name)
        except OSError:  # swept between check and read
            self.set_status(404)
            self.finish()
            return
        ext = name.rsplit(".", 1)[1]
        self.set_header("Content-Type", CONTENT_TYPES[ext])
        self.set_header("Content-Length", str(len(data)))
        self.set_header("Cache-Control", "private, max-age=%d" % max(0, int(left)))
        if body:
            self.write(data)
        self.finish()
