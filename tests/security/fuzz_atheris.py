"""Optional coverage-guided fuzzing of the input-facing pure functions with atheris.

Not collected by pytest (no ``test_`` prefix) and not a dependency: atheris
builds against libFuzzer/clang. Run it by hand (tests/security/README.md)::

    pip install atheris
    python tests/security/fuzz_atheris.py -atheris_runs=200000 -max_len=4096

Each input is split by its first byte into one of the targets below; any
exception other than the documented ones is a crash that atheris reports with
the input that caused it. What the targets must never do: raise from webhook
parsing (``parse_events`` / ``iter_values`` may raise ``ValueError`` for a bad
shape, nothing else), raise from command parsing (``ParseError`` only), or let
``MediaStore.check`` answer 200 for anything but the one signed URL.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))

from openclaw_connector.channels import line, whatsapp  # noqa: E402
from openclaw_connector.commands.parser import ParseError, parse  # noqa: E402
from openclaw_connector.media import MediaStore  # noqa: E402
from tests.harness import make_config  # noqa: E402


def _media() -> tuple[MediaStore, str, str, str]:
    cfg = make_config(tempfile.mkdtemp(prefix="atheris-media-"))
    store = MediaStore(cfg.media, cfg.state_dir, "atheris-admin-token")
    asyncio.run(store.start())
    signed = store.put(b"\x89PNG\r\n\x1a\n", "image/png")
    name, _, query = signed.rsplit("/", 1)[1].partition("?")
    params = dict(p.split("=", 1) for p in query.split("&"))
    return store, name, params["exp"], params["sig"]


MEDIA, NAME, EXP, SIG = _media()


def _json(data: bytes):
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def one_input(data: bytes) -> None:
    if not data:
        return
    target, rest = data[0] % 4, data[1:]
    text = rest.decode("utf-8", "replace")
    if target == 0:
        try:
            parse(text, "ourbot", mentioned=bool(data[0] & 0x80))
        except ParseError:
            pass
    elif target == 1:
        payload = _json(rest)
        try:
            events = line.parse_events(payload)
        except ValueError:
            return
        for event in events:
            line.event_to_inbound(event, 0.0)
            line.dedup_key(event)
    elif target == 2:
        payload = _json(rest)
        try:
            values = list(whatsapp.iter_values(payload))
        except ValueError:
            return
        for value in values:
            for message in value.get("messages") or [] if isinstance(
                    value.get("messages"), list) else []:
                whatsapp.message_to_inbound(message, 0.0)
    else:
        name, _, tail = text.partition("\n")
        exp, _, sig = tail.partition("\n")
        status, _left = MEDIA.check(name, exp or None, sig or None)
        if status == 200:   # leading zeros in exp are the same expiry, nothing more
            assert (name, int(exp), sig) == (NAME, int(EXP), SIG), (name, exp, sig)


def main() -> None:
    import atheris
    atheris.instrument_all()
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
