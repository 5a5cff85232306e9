"""Issue 15, operations: health and metrics only on the status port, a bare 200 on the
webhook port, ``reachable: false`` once ComfyUI failed, build/channel/process metrics,
scrapes at debug (the daemon in-process, plain HTTP from outside)."""

from __future__ import annotations

import json
import logging
import os

import pytest

from openclaw_connector import __version__
from openclaw_connector import config as configmod
from tests.fakes import line as fline
from tests.ops.identity_fake import closed_port_url
from tests.harness import running_daemon, until
from tests.channels.webhooks.support import free_port, get, webhook_config


@pytest.mark.gen_test(timeout=20)
async def test_health_and_metrics_live_on_the_status_port_only(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    async with fline.FakeLine() as fl:
        cfg = webhook_config(tmp_path, line=fl, **{"openclaw.url": closed_port_url()})
        cfg = configmod.with_overrides(cfg, status={"port": free_port()})
        async with running_daemon(cfg) as daemon:
            hook_port = daemon.web.bound_port(cfg.line.bind, cfg.line.port)
            status_base = "http://127.0.0.1:%d" % cfg.status.port
            bare = await get("http://127.0.0.1:%d/healthz" % hook_port)
            hook_metrics = await get("http://127.0.0.1:%d/metrics" % hook_port)
            bodies: list = []

            async def unreachable() -> bool:
                answer = await get(status_base + "/healthz")
                bodies.append(json.loads(answer.body))
                return bodies[-1]["comfyui"]["reachable"] is False

            # ComfyUI is a closed port: the JobWatcher's /ws connect fails at once.
            await until(lambda: daemon.jobs.ws.last_connect_ok is False, 10, "a /ws failure")
            assert await unreachable(), bodies
            metrics = (await get(status_base + "/metrics")).body.decode()
    assert bare.code == 200 and bare.body == b"ok\n"
    assert __version__.encode() not in bare.body
    assert hook_metrics.code == 404
    assert bodies[-1]["version"] == __version__ and "line" in bodies[-1]["channels"]
    assert 'openclaw_connector_build_info{version="%s"} 1' % __version__ in metrics
    assert 'openclaw_connector_channel_up{channel="line"} 1' in metrics
    for name in ("process_resident_memory_bytes", "process_cpu_seconds_total",
                 "process_open_fds", "process_start_time_seconds"):
        value = [ln for ln in metrics.splitlines() if ln.startswith(name + " ")]
        assert value and float(value[0].split()[1]) > 0, name
    assert "# TYPE process_cpu_seconds_total counter" in metrics
    scrapes = [r for r in caplog.records if "event=http_request" in r.getMessage()
               and ("/healthz" in r.getMessage() or "/metrics status=200" in r.getMessage())]
    assert scrapes and all(r.levelno == logging.DEBUG for r in scrapes)


@pytest.mark.gen_test(timeout=20)
async def test_console_saves_result_images_and_prints_the_path(tmp_path):
    """The console cannot show a picture: it saves it under state_dir/console."""
    from tests.commands.helpers import config
    from tests.fakes.openclaw import FakeOpenClaw
    from tests.harness import running_daemon as daemon_ctx
    async with FakeOpenClaw(admin_token="tok-console-0123456789") as fake:
        fake.register_view("openclaw_solid_00048_.png", b"\x89PNG\r\n\x1a\nDATA")
        cfg = config(tmp_path, fake.url, token="tok-console-0123456789")
        async with daemon_ctx(cfg, console=True) as daemon:
            daemon.pipe.send("/run portrait seed=4")
            out = await daemon.out.wait_for("Prompt:")
            fake.finish_job(images=["openclaw_solid_00048_.png"])
            out = await daemon.out.wait_for("saved to ")
    saved = os.path.join(os.path.abspath(cfg.state_dir), "console", "openclaw_solid_00048_.png")
    assert "[image] openclaw_solid_00048_.png (image/png, 12 bytes) saved to %s" % saved in out
    with open(saved, "rb") as fh:
        assert fh.read() == b"\x89PNG\r\n\x1a\nDATA"


@pytest.mark.gen_test(timeout=20)
async def test_console_save_dir_is_configurable_and_never_overwrites(tmp_path):
    from tests.commands.helpers import config
    from tests.fakes.openclaw import FakeOpenClaw
    target = tmp_path / "pictures"
    async with FakeOpenClaw(admin_token="tok-console-0123456789") as fake:
        fake.register_view("same.png", b"second")
        cfg = config(tmp_path, fake.url, token="tok-console-0123456789",
                     console__save_dir=str(target))
        target.mkdir()
        (target / "same.png").write_bytes(b"first")
        async with running_daemon(cfg, console=True) as daemon:
            daemon.pipe.send("/run portrait seed=5")
            await daemon.out.wait_for("Prompt:")
            fake.finish_job(images=["same.png"])
            out = await daemon.out.wait_for("saved to ")
    assert "saved to %s" % (target / "same-1.png") in out
    assert (target / "same.png").read_bytes() == b"first"
    assert (target / "same-1.png").read_bytes() == b"second"
