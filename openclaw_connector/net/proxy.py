"""Which outbound call goes through an HTTP proxy, and how to reach that proxy.

Why: some users reach Telegram or Discord only through a proxy. The rules
follow curl's: ``network.proxy`` (or ``HTTPS_PROXY``) for https:// APIs,
``network.http_proxy`` (or ``HTTP_PROXY``) for http:// ones, and
``network.no_proxy`` (or ``NO_PROXY``) lists hosts that are dialled
directly: a name matches itself and its subdomains (``example.com`` and
``.example.com`` both match ``api.example.com``), an address or CIDR block
matches addresses, ``*`` turns the proxy off. Loopback and the OpenClaw
host always bypass (ComfyUI is on this machine or the LAN, not behind the
user's egress proxy). config/ reads the environment; this module only
decides. HTTPS goes through a ``CONNECT`` tunnel (TLS end to end, the proxy
sees only the host name); plain HTTP is sent to the proxy in absolute form.
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from typing import Iterable, Optional, Union
from urllib.parse import unquote, urlsplit

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


@dataclass(frozen=True)
class Proxy:
    """One HTTP proxy: where to dial and the ``Proxy-Authorization`` value ("" for none)."""

    host: str
    port: int
    authorization: str = ""

    @classmethod
    def from_url(cls, url: str) -> "Proxy":
        """``http://[user:password@]host[:port]``; port 80 when none is given (curl assumes 1080)."""
        parts = urlsplit(url if "://" in url else "http://" + url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError("expected http://[user:password@]host:port, got a %s URL"
                             % (parts.scheme or "schemeless"))
        auth = ""
        if parts.username is not None:
            pair = "%s:%s" % (unquote(parts.username), unquote(parts.password or ""))
            auth = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
        return cls(parts.hostname, parts.port or 80, auth)

    def __repr__(self) -> str:     # never the credentials, should one be logged
        return "Proxy(%s:%d)" % (self.host, self.port)


class ProxyRules:
    """``for_url(scheme, host)`` → the :class:`Proxy` to use, or None to dial directly."""

    def __init__(self, *, https_proxy: Optional[str] = None, http_proxy: Optional[str] = None,
                 no_proxy: Iterable[str] = (), bypass: Iterable[str] = ()) -> None:
        self._by_scheme = {"https": Proxy.from_url(https_proxy) if https_proxy else None,
                           "http": Proxy.from_url(http_proxy) if http_proxy else None}
        self._names: list[str] = []
        self._networks: list[IPNetwork] = []
        self._everything = False
        for entry in list(no_proxy) + list(bypass):
            self._add(entry)

    @property
    def active(self) -> bool:
        return any(self._by_scheme.values()) and not self._everything

    def for_url(self, scheme: str, host: str) -> Optional[Proxy]:
        proxy = self._by_scheme.get(scheme)
        if proxy is None or self._everything or self.bypasses(host):
            return None
        return proxy

    def bypasses(self, host: str) -> bool:
        """True when ``host`` is dialled directly (loopback, no_proxy, OpenClaw)."""
        host = host.strip("[]").lower().rstrip(".")
        if host == "localhost" or host.endswith(".localhost"):
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return any(host == name or host.endswith("." + name) for name in self._names)
        return address.is_loopback or any(address in net for net in self._networks)

    def _add(self, entry: str) -> None:
        entry = entry.strip().lower()
        if not entry:
            return
        if entry == "*":
            self._everything = True
            return
        if "://" in entry:               # a URL (the OpenClaw one): its host
            entry = urlsplit(entry).hostname or ""
        elif entry.startswith("[") and "]" in entry:
            entry = entry[1:entry.index("]")]
        elif entry.count(":") == 1:       # host:port; the port is not matched
            entry = entry.split(":", 1)[0]
        try:
            self._networks.append(ipaddress.ip_network(entry, strict=False))
            return
        except ValueError:
            pass
        entry = entry.lstrip("*").lstrip(".").rstrip(".")
        if entry:
            self._names.append(entry)


def connect_request(proxy: Proxy, host: str, port: int) -> bytes:
    """The ``CONNECT host:port`` request asking ``proxy`` for a tunnel."""
    authority = "%s:%d" % ("[%s]" % host if ":" in host else host, port)
    lines = ["CONNECT %s HTTP/1.1" % authority, "Host: " + authority]
    if proxy.authorization:
        lines.append("Proxy-Authorization: " + proxy.authorization)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
