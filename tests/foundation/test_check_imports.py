"""``check.py`` is only the --check driver: it imports no HTTP client and calls no fetch."""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).parents[2]
HTTP_CLIENTS = ("openclaw_connector.net.client", "openclaw_connector.net.transport",
                "openclaw_connector.net.tunnel", "openclaw_connector.net.probe",
                "tornado.httpclient", "tornado.simple_httpclient", "tornado.tcpclient",
                "tornado.websocket", "tornado.iostream", "http.client", "urllib.request",
                "socket", "ssl", "asyncio.streams")


def _runtime_imports(tree: ast.Module) -> set[str]:
    """Every module imported at run time (``if TYPE_CHECKING:`` blocks are types only)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update("%s.%s" % (node.module, alias.name) for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_check_py_imports_no_http_client():
    """The probes live beside their wire code; the driver only runs them."""
    tree = ast.parse((ROOT / "openclaw_connector" / "check.py").read_text())
    imports = _runtime_imports(tree)
    bad = sorted(m for m in imports if any(m == c or m.startswith(c + ".")
                                           for c in HTTP_CLIENTS))
    assert bad == []
    # What it does import: the client's probe and one probe per platform.
    assert "openclaw_connector.openclaw.client.OpenClawClient" in imports
    for module in ("channels.telegram.probe", "channels.discord.probe",
                   "channels.line_probe", "channels.whatsapp_probe"):
        assert "openclaw_connector.%s" % module in imports


def test_check_py_calls_no_fetch():
    """No ``.fetch(``/``.get(`` on a transport and no HTTPRequest in the driver."""
    source = (ROOT / "openclaw_connector" / "check.py").read_text()
    calls = {node.func.attr for node in ast.walk(ast.parse(source))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
    assert not calls & {"fetch", "fetch_json", "websocket_connect", "open_connection"}
    assert "HTTPRequest" not in source
