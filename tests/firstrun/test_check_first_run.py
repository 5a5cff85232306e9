"""Issue 15: ``--check`` as the seed's user runs it: loopback without a token, webhook URLs
to paste, the public_base_url warning (CLI subprocess against the loopback fakes)."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from tests.e2e.process import ROOT
from tests.fakes.line import FakeLine
from tests.fakes.openclaw import FakeOpenClaw


async def run_check(env: dict) -> tuple[int, list[str], str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_CONNECTOR_")}
    clean["PYTHONPATH"] = ROOT
    clean.update(env)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "openclaw_connector", "--check", env=clean,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    return proc.returncode, out.decode().splitlines(), err.decode()


@pytest.mark.gen_test(timeout=30)
async def test_loopback_without_token_passes_and_prints_what_to_paste(tmp_path):
    """No admin token on either side (the seed's convenience mode): --check sends the
    daemon's own Origin, passes, warns about public_base_url and prints the webhook URL."""
    async with FakeOpenClaw(admin_token=None) as oc, FakeLine(access_token="line-tok") as ln:
        env = {"OPENCLAW_CONNECTOR_URL": oc.url,
               "OPENCLAW_CONNECTOR_LINE_CHANNEL_SECRET": "line-secret-value",
               "OPENCLAW_CONNECTOR_LINE_CHANNEL_ACCESS_TOKEN": "line-tok",
               "OPENCLAW_CONNECTOR_LINE_API_BASE": ln.url,
               "OPENCLAW_CONNECTOR_STATE_DIR": str(tmp_path / "s")}
        status, lines, err = await run_check(env)
        admin = oc.calls("/openclaw/approvals")
        env["OPENCLAW_CONNECTOR_PUBLIC_BASE_URL"] = "https://tunnel.example.test"
        status2, lines2, _err = await run_check(env)
    assert status == 0, (lines, err)
    assert "OK   comfyui admin token: no admin token; the server allows this host " \
           "(0 pending approvals)" in lines
    assert admin[0].status == 200 and admin[0].headers["Origin"] == oc.url
    assert "WARN media: images cannot be delivered to LINE until media.public_base_url is " \
           "set to your HTTPS tunnel URL (OPENCLAW_CONNECTOR_PUBLIC_BASE_URL)" in lines
    assert ("URL  line webhook: https://<your tunnel host>/line/webhook — paste into LINE "
            "Developers → Messaging API → Webhook URL; the tunnel forwards to "
            "http://127.0.0.1:8099") in lines
    assert lines[-1] == "6 checks, 0 failed"
    assert status2 == 0
    assert not any(line.startswith("WARN") for line in lines2)
    assert any(line.startswith("URL  line webhook: https://tunnel.example.test/line/webhook")
               for line in lines2)


@pytest.mark.gen_test(timeout=30)
async def test_server_with_a_token_still_fails_with_the_fix(tmp_path):
    """The server has OPENCLAW_ADMIN_TOKEN and we send none: FAIL with what to set."""
    async with FakeOpenClaw(admin_token="server-side-token") as oc:
        status, lines, err = await run_check({
            "OPENCLAW_CONNECTOR_URL": oc.url, "OPENCLAW_CONNECTOR_CONSOLE": "1",
            "OPENCLAW_CONNECTOR_STATE_DIR": str(tmp_path / "s")})
    assert status == 1, (lines, err)
    failed = [ln for ln in lines if ln.startswith("FAIL comfyui admin token: 403")]
    assert failed and "set openclaw.admin_token (or OPENCLAW_CONNECTOR_ADMIN_TOKEN)" in failed[0]
    assert "server-side-token" not in "\n".join(lines) + err
