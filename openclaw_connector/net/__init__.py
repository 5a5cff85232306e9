"""Outbound transport: keep-alive HTTP client, multipart, proxies, tunnels, resolver; knows no platform."""
