"""Proxy selection (net/proxy.py) and the network.* keys with their standard
environment variables (config/loader.py)."""

from __future__ import annotations

import pytest

from openclaw_connector import config as configmod
from openclaw_connector.net.proxy import Proxy, ProxyRules

P = "http://proxy.lan:3128"


@pytest.mark.parametrize("host,proxied", [
    ("api.telegram.org", True), ("discord.com", True),
    ("127.0.0.1", False), ("::1", False), ("localhost", False), ("[::1]", False),
    ("comfy.lan", False),                   # the OpenClaw URL's host
    ("internal.example", False), ("api.internal.example", False),   # no_proxy suffix
    ("notinternal.example", True),           # a suffix match is on a dot boundary
    ("10.1.2.3", False), ("10.2.0.1", True),  # no_proxy CIDR
    ("graph.facebook.com", False),           # no_proxy with a port
])
def test_which_hosts_use_the_proxy(host, proxied):
    """Loopback, the OpenClaw host and no_proxy entries are dialled directly."""
    rules = ProxyRules(https_proxy=P, no_proxy=(".internal.example", "10.1.0.0/16",
                                                "graph.facebook.com:443"),
                       bypass=("http://comfy.lan:8188",))
    assert (rules.for_url("https", host) is not None) is proxied


def test_scheme_picks_the_proxy_and_star_turns_it_off():
    """https:// uses proxy, http:// only http_proxy; ``*`` in no_proxy disables both."""
    rules = ProxyRules(https_proxy=P)
    assert rules.for_url("https", "a.example") == Proxy("proxy.lan", 3128)
    assert rules.for_url("http", "a.example") is None
    off = ProxyRules(https_proxy=P, http_proxy=P, no_proxy=("*",))
    assert not off.active and off.for_url("https", "a.example") is None


def test_credentials_become_basic_auth_and_never_show_in_repr():
    """user:password (URL-escaped) → Proxy-Authorization; repr has host and port only."""
    proxy = Proxy.from_url("http://bob:p%40ss@proxy.lan:3128")
    assert proxy.authorization == "Basic Ym9iOnBAc3M="       # bob:p@ss
    assert "p@ss" not in repr(proxy) and "Ym9i" not in repr(proxy)


def test_standard_variables_fill_in_when_the_keys_are_unset():
    """HTTPS_PROXY/HTTP_PROXY/NO_PROXY are read when neither YAML nor our variables set
    the key; OPENCLAW_CONNECTOR_PROXY wins over HTTPS_PROXY."""
    env = {"HTTPS_PROXY": P, "http_proxy": "http://other:8080", "NO_PROXY": "a.lan, b.lan"}
    cfg = configmod.load(None, env=env)
    assert cfg.network.proxy == P and cfg.network.http_proxy == "http://other:8080"
    assert cfg.network.no_proxy == ("a.lan", "b.lan")
    ours = configmod.load(None, env=dict(env, OPENCLAW_CONNECTOR_PROXY="http://mine:1"))
    assert ours.network.proxy == "http://mine:1"
    assert configmod.load(None, env={}).network.proxy is None


def test_proxy_url_is_masked_in_the_printed_config():
    """The proxy URL may hold a password: --print-config shows it masked."""
    cfg = configmod.load(None, env={"HTTPS_PROXY": "http://bob:hunter22@proxy.lan:3128"})
    assert "hunter22" not in configmod.dump_yaml(cfg)
    assert "http://bob:hunter22@proxy.lan:3128" in cfg.secrets()


@pytest.mark.parametrize("value", ["socks5://proxy.lan:1080", "https://proxy.lan:443",
                                   "http://proxy.lan:notaport"])
def test_unsupported_proxy_is_a_config_error_naming_the_key(value):
    """Only http:// proxies: anything else stops at start with the key path and the fix."""
    with pytest.raises(configmod.ConfigError) as err:
        configmod.load(None, env={"OPENCLAW_CONNECTOR_PROXY": value})
    assert "network.proxy" in str(err.value) and "http://" in str(err.value)
