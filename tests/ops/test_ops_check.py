"""``--check`` against the identity fake: one line per check, the exact fix, never a secret."""

from __future__ import annotations

import asyncio
import io
import sys

import pytest
import yaml

from openclaw_connector import check
from openclaw_connector.net.transport import build_transport
from tests.ops.identity_fake import (SECRETS, all_channels_yaml, closed_port_url)


async def run_checks(cfg, out) -> int:
    """``check.run_checks`` over the daemon's own transport, as cli.py runs it."""
    http = build_transport(cfg)
    try:
        return await check.run_checks(cfg, out, http)
    finally:
        http.close()


async def run(cfg) -> tuple[int, list[str]]:
    out = io.StringIO()
    status = await run_checks(cfg, out)
    text = out.getvalue()
    for secret in SECRETS:
        assert secret not in text
    return status, text.splitlines()


def line_for(lines: list[str], name: str) -> str:
    found = [ln for ln in lines if ln.split(" ", 1)[-1].lstrip().startswith(name + ":")]
    assert len(found) == 1, (name, lines)
    return found[0]


@pytest.mark.gen_test(timeout=10)
async def test_all_services_accept_every_credential(identity_fake, make_cfg, tmp_path):
    """Every check passes, each says what it found, and the exit status is 0."""
    status, lines = await run(make_cfg(all_channels_yaml(identity_fake.url, str(tmp_path))))
    assert status == 0, lines
    assert line_for(lines, "telegram") == "OK   telegram: bot @comfy_bot"
    assert line_for(lines, "discord") == "OK   discord: bot @comfybot, 998/1000 session starts left"
    assert line_for(lines, "line") == "OK   line: bot Comfy (@123abcde)"
    assert line_for(lines, "whatsapp") == "OK   whatsapp: number +1 555-000-1111 (Comfy Studio)"
    assert line_for(lines, "comfyui").startswith("OK   comfyui: OpenClaw 1.0.7 at http://127.0.0.1:")
    assert line_for(lines, "comfyui admin token") == \
        "OK   comfyui admin token: accepted (2 pending approvals)"
    assert line_for(lines, "state_dir").startswith("OK   state_dir: ")
    assert line_for(lines, "config").startswith("OK   config: ")
    assert lines[-1] == "8 checks, 0 failed"
    # the admin tier is proven with the header, never a query-string token
    admin = [r for r in identity_fake.expect.requests if r[1].startswith("/openclaw/approvals")]
    assert admin and admin[0][2]["X-Openclaw-Admin-Token"]
    assert all("token" not in uri.split("?", 1)[-1] for _m, uri, _h in
               identity_fake.expect.requests if "?" in uri)


WRONG = {
    "telegram": "FAIL telegram: 401 Unauthorized — the token is wrong or was revoked; "
                "copy it again from @BotFather",
    "discord": "FAIL discord: 401 Unauthorized — the bot token is wrong or was reset; "
               "copy it again from the Developer Portal",
    "line": "FAIL line: 401 Unauthorized — the channel access token is wrong or expired; "
            "issue a long-lived one in the LINE Developers console",
    "whatsapp": "FAIL whatsapp: 401 Unauthorized (Graph error 190) — the access token is "
                "wrong or expired",
}


@pytest.mark.parametrize("platform", sorted(WRONG))
@pytest.mark.gen_test(timeout=10)
async def test_wrong_token_names_the_fix(platform, identity_fake, make_cfg, tmp_path):
    """A rejected credential fails only its own line, with the fix, and the exit is 1."""
    setattr(identity_fake.expect, platform, "something-else")
    status, lines = await run(make_cfg(all_channels_yaml(identity_fake.url, str(tmp_path))))
    assert status == 1
    assert line_for(lines, platform).startswith(WRONG[platform]), lines
    others = [ln for ln in lines[:-1] if not ln.startswith(("FAIL " + platform + ":", "URL ", "INFO "))]
    assert all(ln.startswith("OK ") for ln in others), lines
    assert lines[-1] == "8 checks, 1 failed"


@pytest.mark.gen_test(timeout=10)
async def test_whatsapp_wrong_phone_number_id(identity_fake, make_cfg, tmp_path):
    """Graph error 100 on the phone number id points at the API Setup page."""
    data = all_channels_yaml(identity_fake.url, str(tmp_path), whatsapp__phone_number_id="999")
    status, lines = await run(make_cfg(data))
    assert status == 1
    assert line_for(lines, "whatsapp").startswith(
        "FAIL whatsapp: 400 Bad Request (Graph error 100) — whatsapp.phone_number_id is wrong")


@pytest.mark.gen_test(timeout=10)
async def test_comfyui_unreachable(identity_fake, make_cfg, tmp_path):
    """Connection refused names host and port, says to start ComfyUI, skips the admin check."""
    url = closed_port_url()
    data = all_channels_yaml(identity_fake.url, str(tmp_path), openclaw__url=url)
    status, lines = await run(make_cfg(data))
    assert status == 1
    assert line_for(lines, "comfyui") == (
        "FAIL comfyui: cannot reach %s (Connection refused) — start ComfyUI, or set "
        "openclaw.url to the address it listens on" % url)
    assert line_for(lines, "comfyui admin token") == \
        "SKIP comfyui admin token: ComfyUI is unreachable"
    assert line_for(lines, "telegram").startswith("OK ")
    assert lines[-1] == "8 checks, 1 failed"


@pytest.mark.gen_test(timeout=10)
async def test_admin_token_rejected(identity_fake, make_cfg, tmp_path):
    """403 Invalid admin token: says the token does not match the server's."""
    identity_fake.expect.admin = "the-server-has-another-one"
    status, lines = await run(make_cfg(all_channels_yaml(identity_fake.url, str(tmp_path))))
    assert status == 1
    assert line_for(lines, "comfyui admin token") == (
        "FAIL comfyui admin token: 403 Invalid admin token. — openclaw.admin_token does not "
        "match OPENCLAW_ADMIN_TOKEN on the ComfyUI server; copy it again into "
        "openclaw.admin_token and rerun --check")
    assert line_for(lines, "comfyui").startswith("OK   comfyui: OpenClaw")


@pytest.mark.gen_test(timeout=10)
async def test_admin_token_missing_but_required(identity_fake, make_cfg, tmp_path):
    """No token configured and the server wants one: say which key to set."""
    data = all_channels_yaml(identity_fake.url, str(tmp_path))
    del data["openclaw"]["admin_token"]
    status, lines = await run(make_cfg(data))
    assert status == 1
    assert "set openclaw.admin_token (or OPENCLAW_CONNECTOR_ADMIN_TOKEN)" in \
        line_for(lines, "comfyui admin token")


@pytest.mark.gen_test(timeout=10)
async def test_openclaw_pack_missing(identity_fake, make_cfg, tmp_path):
    """404 on /openclaw/health means ComfyUI runs without the node pack."""
    identity_fake.expect.health_status = 404
    status, lines = await run(make_cfg(all_channels_yaml(identity_fake.url, str(tmp_path))))
    assert status == 1
    assert "node pack is not loaded" in line_for(lines, "comfyui")
    assert line_for(lines, "comfyui admin token").startswith("SKIP ")


@pytest.mark.gen_test(timeout=10)
async def test_discord_identify_budget_exhausted(identity_fake, make_cfg, tmp_path):
    """No session starts left: keep the daemon stopped (faults.md #9)."""
    identity_fake.expect.discord_remaining = 0
    status, lines = await run(make_cfg(all_channels_yaml(identity_fake.url, str(tmp_path))))
    assert status == 1
    assert line_for(lines, "discord") == (
        "FAIL discord: bot @comfybot, but no gateway session starts are left (0/1000); they "
        "reset in 5.0 h — keep the daemon stopped until then, or Discord may reset the token")


@pytest.mark.gen_test(timeout=10)
async def test_hung_platform_times_out(identity_fake, make_cfg, tmp_path):
    """A server that accepts and never answers fails after openclaw.timeout_sec."""
    identity_fake.expect.hang_telegram = True
    data = all_channels_yaml(identity_fake.url, str(tmp_path), openclaw__timeout_sec=0.3)
    status, lines = await run(make_cfg(data))
    assert status == 1
    assert line_for(lines, "telegram").startswith(
        "FAIL telegram: cannot reach http://127.0.0.1:%s (timed out after 0.3s)"
        % identity_fake.url.rsplit(":", 1)[1])


@pytest.mark.gen_test(timeout=10)
async def test_only_enabled_platforms_are_checked(identity_fake, make_cfg, tmp_path):
    """A config with no platform contacts only ComfyUI."""
    data = all_channels_yaml(identity_fake.url, str(tmp_path))
    for name in ("telegram", "discord", "line", "whatsapp"):
        del data[name]
    status, lines = await run(make_cfg(data))
    assert status == 0
    assert [ln.split(":")[0] for ln in lines[:-1]] == [
        "OK   config", "OK   state_dir", "OK   comfyui", "OK   comfyui admin token"]
    assert all(not uri.startswith(("/bot", "/api", "/line", "/v21"))
               for _m, uri, _h in identity_fake.expect.requests)


@pytest.mark.gen_test(timeout=20)
async def test_cli_check_exit_status(identity_fake, tmp_path):
    """``openclaw-connectord -c FILE --check`` prints the lines and exits 1 on a bad token."""
    identity_fake.expect.line = "nope"
    path = tmp_path / "openclaw.yaml"
    path.write_text(yaml.safe_dump(all_channels_yaml(identity_fake.url, str(tmp_path / "s"))))
    path.chmod(0o600)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "openclaw_connector", "-c", str(path), "--check",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 15)
    text = stdout.decode()
    assert proc.returncode == 1, (text, stderr.decode())
    assert "FAIL line: 401 Unauthorized" in text
    assert "OK   telegram: bot @comfy_bot" in text
    assert "8 checks, 1 failed" in text
    for secret in SECRETS:
        assert secret not in text and secret not in stderr.decode()


@pytest.mark.parametrize("wrong", [False, True], ids=["right-tokens", "wrong-tokens"])
@pytest.mark.gen_test(timeout=15)
async def test_check_against_the_shared_platform_fakes(wrong, tmp_path):
    """The same verdicts against tests/fakes (the fakes the channels are tested with)."""
    from tests.fakes.discord import FakeDiscord
    from tests.fakes.line import FakeLine
    from tests.fakes.openclaw import FakeOpenClaw
    from tests.fakes.telegram import FakeTelegram
    from tests.fakes.whatsapp import FakeWhatsApp
    from openclaw_connector import config as configmod

    def token(value: str) -> str:
        return value[:-4] + "XXXX" if wrong else value

    async with FakeTelegram() as tg, FakeDiscord() as dc, FakeLine() as ln, \
            FakeWhatsApp() as wa, FakeOpenClaw(admin_token="shared-fake-admin-token") as oc:
        cfg = configmod.load(None, env={}, overrides={
            "state_dir": str(tmp_path), "openclaw.url": oc.url,
            "openclaw.admin_token": token("shared-fake-admin-token"),
            "telegram.token": token(tg.token), "telegram.api_base": tg.url,
            "discord.token": token(dc.token), "discord.api_base": dc.api_base,
            "line.channel_secret": "shared-fake-line-secret",
            "line.channel_access_token": token(ln.access_token), "line.api_base": ln.url,
            "whatsapp.access_token": token(wa.access_token), "whatsapp.verify_token": "v-token",
            "whatsapp.app_secret": "shared-fake-app-secret",
            "whatsapp.phone_number_id": wa.phone_number_id, "whatsapp.api_base": wa.api_base,
            "media.public_base_url": "https://tunnel.example.test"})
        out = io.StringIO()
        status = await run_checks(cfg, out)
    lines = out.getvalue().splitlines()
    if wrong:
        assert status == 1
        for name, prefix in WRONG.items():
            assert line_for(lines, name).startswith(prefix), lines
        assert line_for(lines, "comfyui admin token").startswith(
            "FAIL comfyui admin token: 403 Invalid admin token.")
        assert lines[-1] == "8 checks, 5 failed"
        return
    assert status == 0, lines
    assert line_for(lines, "telegram") == "OK   telegram: bot @%s" % tg.username
    assert line_for(lines, "discord").startswith("OK   discord: bot @")
    assert line_for(lines, "line") == "OK   line: bot Fake LINE Bot (@123fake)"
    assert line_for(lines, "whatsapp").startswith("OK   whatsapp: number +1 555-000-1111")
    assert line_for(lines, "comfyui admin token").startswith("OK   comfyui admin token: accepted")


@pytest.mark.gen_test(timeout=10)
async def test_proxy_is_named_without_its_password(identity_fake, make_cfg, tmp_path):
    """With network.proxy set, --check names host:port (never the credentials) and says the
    Discord gateway uses it; loopback platforms are still checked directly."""
    data = all_channels_yaml(identity_fake.url, str(tmp_path))
    data["network"] = {"proxy": "http://bob:pr0xyPassw0rd@proxy.invalid:3128"}
    status, lines = await run(make_cfg(data))
    assert status == 0, lines
    assert line_for(lines, "proxy").startswith(
        "OK   proxy: platform API calls and the Discord gateway go through proxy.invalid:3128")
    assert not any("pr0xyPassw0rd" in line or "bob" in line for line in lines)
