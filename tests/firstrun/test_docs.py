"""Issue 15: the newcomer docs exist, are linked, and the seed's variables are all mapped."""

from __future__ import annotations

import re
from pathlib import Path

from openclaw_connector import config as configmod

ROOT = Path(__file__).resolve().parents[2]
SEED_VARIABLES = """URL DEBUG ADMIN_USERS ADMIN_TOKEN TELEGRAM_TOKEN TELEGRAM_ALLOWED_USERS
TELEGRAM_ALLOWED_CHATS DISCORD_TOKEN DISCORD_ALLOWED_USERS DISCORD_ALLOWED_CHANNELS
LINE_CHANNEL_SECRET LINE_CHANNEL_ACCESS_TOKEN LINE_ALLOWED_USERS LINE_ALLOWED_GROUPS LINE_BIND
LINE_PORT LINE_PATH WHATSAPP_ACCESS_TOKEN WHATSAPP_VERIFY_TOKEN WHATSAPP_APP_SECRET
WHATSAPP_PHONE_NUMBER_ID WHATSAPP_ALLOWED_USERS WHATSAPP_BIND WHATSAPP_PORT WHATSAPP_PATH
PUBLIC_BASE_URL MEDIA_PATH MEDIA_TTL_SEC MEDIA_MAX_MB""".split()


def _section(text: str, title: str) -> str:
    start = text.index(title + "\n")
    rest = text[start + len(title) + 1:]
    following = re.search(r"\n[^\n]+\n-{3,}\n", rest[rest.index("\n") + 1:])
    return rest if following is None else rest[:following.start() + rest.index("\n") + 1]


def test_readme_maps_python_m_connector_and_every_seed_variable():
    section = _section((ROOT / "README.rst").read_text(),
                       "Coming from the ComfyUI-OpenClaw connector")
    assert "``python -m connector``" in section and "``openclaw-connectord``" in section
    keys = {meta["env"]: path for path, _v, meta in configmod._walk(configmod.Config())}
    for name in SEED_VARIABLES:
        env = "OPENCLAW_CONNECTOR_" + name
        assert env in keys, env                           # the daemon reads it
        row = "``%s``" % env
        assert row in section, env
        line = next(ln for ln in section.splitlines() if ln.startswith(row))
        assert "``%s``" % keys[env] in line, (env, line)  # mapped to the key it sets
    assert not (ROOT / "connector").exists()              # no package shadowing the pack's


def test_docs_pages_exist_and_are_linked_from_the_readme():
    readme = (ROOT / "README.rst").read_text()
    for page, must in {
        "first-image.md": ["openclaw-connectord --console --check", "/run"],
        "telegram.md": ["@BotFather", "event=sender_denied"],
        "discord.md": ["Message Content Intent", "permissions=101376"],
        "line-whatsapp.md": ["cloudflared tunnel --url http://127.0.0.1:8099",
                             "OPENCLAW_CONNECTOR_PUBLIC_BASE_URL", "/whatsapp/webhook"],
        "commands.md": ["/status", "/trace", "Expires: 2026-02-07T13:00:00Z"],
        "service.md": ["systemd", "sysvinit", "OpenRC", "launchd", "0640"],
        "upgrading.md": ["python -m connector", "--check"],
    }.items():
        text = (ROOT / "docs" / page).read_text()
        assert "<docs/%s>" % page in readme, page
        for needle in must:
            assert needle in text, (page, needle)
