"""Fuzzed webhook inputs (hypothesis) against one real daemon with LINE and WhatsApp on.

Bodies (random bytes, random JSON, event-shaped JSON with junk in every field),
signatures (valid, missing, wrong, another key's, over other bytes, duplicated
headers, odd header spelling) and content types (absent, wrong, huge) are sent
over real sockets. After each example the invariants are checked:

* never a 5xx, never an ERROR log line or a logged exception;
* no valid signature → 401 and nothing happens: no command routed, no request
  to OpenClaw, no reply at any fake;
* valid signature → a sender no allowlist names is routed to silence; nothing
  reaches OpenClaw or a platform unless an allowed sender's command ran.

The daemon's OpenClaw fake has no templates, so no job can start and the
JobWatcher has nothing to poll: every OpenClaw request is a command's.
Example counts are small for CI; ``SECURITY_FUZZ_EXAMPLES=2000`` raises them
(tests/security/README.md).
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openclaw_connector.commands.parser import parse
from tests.fakes import line as fline
from tests.fakes import whatsapp as fwa
from tests.security.background import BackgroundDaemon
from tests.security.strategies import JSON, TEXTS, budget, maybe
from tests.security.support import CASTS, LINE_SECRET, WA_SECRET, WA_VERIFY


@pytest.fixture(scope="module")
def bg(tmp_path_factory):
    with BackgroundDaemon(tmp_path_factory.mktemp("fuzz"), openclaw={"templates": {}}) as d:
        yield d


# --------------------------------------------------------------------------- strategies

LINE_CAST, WA_CAST = CASTS["line"], CASTS["whatsapp"]


def _ids(cast) -> list[str]:
    return [s.user for s in cast.roles()]


LINE_SOURCE = maybe(st.fixed_dictionaries({}, optional={
    "type": maybe(st.sampled_from(["user", "group", "room", "USER"])),
    "userId": maybe(st.sampled_from(_ids(LINE_CAST) + [""])),
    "groupId": maybe(st.sampled_from([LINE_CAST.chat.chat, "C" + "0" * 32])),
    "roomId": maybe(st.sampled_from([LINE_CAST.chat.chat, "R" + "0" * 32]))}))
LINE_MESSAGE = maybe(st.fixed_dictionaries({}, optional={
    "type": maybe(st.sampled_from(["text", "image", "sticker"])),
    "id": maybe(st.text("0123456789", min_size=1, max_size=6)),
    "text": maybe(TEXTS),
    "mention": maybe(st.fixed_dictionaries({"mentionees": st.lists(
        maybe(st.fixed_dictionaries({"isSelf": maybe(st.booleans())})), max_size=2)}))}))
LINE_EVENT = maybe(st.fixed_dictionaries({}, optional={
    "type": maybe(st.sampled_from(["message", "follow", "unsend", "postback"])),
    "mode": maybe(st.sampled_from(["active", "standby"])),
    "source": LINE_SOURCE, "message": LINE_MESSAGE,
    "replyToken": maybe(st.text(max_size=12)),
    "webhookEventId": maybe(st.text("0123456789ABCDEF", max_size=4)),
    "deliveryContext": maybe(st.fixed_dictionaries({"isRedelivery": maybe(st.booleans())})),
    "timestamp": maybe(st.integers())}))


@st.composite
def near_valid_line_events(draw):
    """A real text event from one of the cast, with up to two fields (top level or
    inside source/message) replaced by junk; event ids from a tiny pool so that
    redeliveries (the dedup path) happen."""
    sender = draw(st.sampled_from(LINE_CAST.roles()))
    event = fline.text_event(draw(TEXTS), user_id=sender.user, group_id=sender.chat or "",
                             event_id=draw(st.sampled_from(["E1", "E2", "E3"])),
                             message_id=draw(st.sampled_from(["1", "2", "3"])))
    containers = [event, event["source"], event["message"]]
    for _ in range(draw(st.integers(0, 2))):
        where = draw(st.sampled_from(containers))
        key = draw(st.sampled_from(sorted(where) + ["extra"]))
        if draw(st.booleans()):
            where[key] = draw(JSON)
        else:
            where.pop(key, None)
    return event


LINE_BODY = st.one_of(
    st.lists(near_valid_line_events(), min_size=1, max_size=3).map(
        lambda events: fline.body_of(*events)),
    st.binary(max_size=300),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({}, optional={"destination": JSON,
                                        "events": maybe(st.lists(LINE_EVENT, max_size=3))}
                          ).map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8")))

WA_MESSAGE = maybe(st.fixed_dictionaries({}, optional={
    "from": maybe(st.sampled_from(_ids(WA_CAST))),
    "id": maybe(st.text("abcdef0123", min_size=1, max_size=5)),
    "timestamp": maybe(st.sampled_from(["0", "1", "nan", "inf", "-inf", "1e400", "x"])),
    "type": maybe(st.sampled_from(["text", "image", "reaction"])),
    "text": maybe(st.fixed_dictionaries({}, optional={"body": maybe(TEXTS)}))}))
WA_STATUS = maybe(st.fixed_dictionaries({}, optional={
    "id": maybe(st.text(max_size=6)), "status": maybe(st.sampled_from(["sent", "failed"])),
    "errors": maybe(st.lists(maybe(st.fixed_dictionaries({"code": JSON, "title": JSON})),
                             max_size=2))}))
WA_VALUE = maybe(st.fixed_dictionaries({}, optional={
    "metadata": maybe(st.fixed_dictionaries({"phone_number_id": maybe(st.sampled_from(
        [fwa.PHONE_NUMBER_ID, "999"]))})),
    "messages": maybe(st.lists(WA_MESSAGE, max_size=3)),
    "statuses": maybe(st.lists(WA_STATUS, max_size=2))}))


@st.composite
def near_valid_wa_bodies(draw):
    """A real notification from one of the cast with up to two fields made junk; wamids
    from a tiny pool (redeliveries)."""
    sender = draw(st.sampled_from(WA_CAST.roles()))
    message = fwa.text_message(sender.user, draw(TEXTS),
                               wamid=draw(st.sampled_from(["wamid.A", "wamid.B"])))
    payload = fwa.notification(messages=(message,), statuses=(
        fwa.status("wamid.S", draw(st.sampled_from(["sent", "failed"])), sender.user,
                   code=131047),))
    value = payload["entry"][0]["changes"][0]["value"]
    containers = [payload, value, value["metadata"], message, message["text"],
                  value["statuses"][0]]
    for _ in range(draw(st.integers(0, 2))):
        where = draw(st.sampled_from(containers))
        key = draw(st.sampled_from(sorted(where) + ["extra"]))
        if draw(st.booleans()):
            where[key] = draw(JSON)
        else:
            where.pop(key, None)
    return fwa.body_of(payload)


WA_BODY = st.one_of(
    near_valid_wa_bodies(),
    st.binary(max_size=300),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({}, optional={"object": JSON, "entry": maybe(st.lists(
        maybe(st.fixed_dictionaries({}, optional={"changes": maybe(st.lists(
            maybe(st.fixed_dictionaries({}, optional={"value": WA_VALUE})), max_size=2))})),
        max_size=2))}).map(lambda v: json.dumps(v).encode()))

# How the signature header is sent: "valid" is the only one that may run a command.
SIG_MODES = ["valid", "missing", "wrong", "other_key", "other_body", "empty", "dup_valid_first",
             "dup_wrong_first", "lower_name", "padded", "non_ascii", "truncated"]
# Half the examples are validly signed, so the parsing paths behind the check get work too.
SIGNATURES = st.one_of(st.just("valid"), st.sampled_from(SIG_MODES))
CONTENT_TYPES = st.one_of(st.none(), st.sampled_from([
    "application/json", "application/json; charset=utf-8", "text/plain", "",
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/json; charset=utf-16", "a" * 8000]))


def signature_headers(name: str, sign, body: bytes, mode: str) -> list:
    good = sign(body)
    return {
        "valid": [(name, good)],
        "missing": [],
        "wrong": [(name, sign(b"x" + body)[:-4] + "AAAA")],
        "other_key": [(name, sign(body, other=True))],
        "other_body": [(name, sign(body + b" "))],
        "empty": [(name, "")],
        "dup_valid_first": [(name, good), (name, "forged")],
        "dup_wrong_first": [(name, "forged"), (name, good)],
        "lower_name": [(name.lower(), good)],
        "padded": [(name, " %s " % good)],
        "non_ascii": [(name, good[:-1] + "é")],
        "truncated": [(name, good[:-2])],
    }[mode]


def line_sign(body: bytes, other: bool = False) -> str:
    return fline.sign(body, "not-the-secret" if other else LINE_SECRET)


def wa_sign(body: bytes, other: bool = False) -> str:
    return fwa.sign(body, "not-the-secret" if other else WA_SECRET)


# --------------------------------------------------------------------------- invariants

def allowed(cast, user: str, chat: str) -> bool:
    users = set(cast.allowed_users) | {cast.admin.user}
    return user in users or (bool(chat) and chat in cast.allowed_chats)


def check(bg: BackgroundDaemon, before: dict, status: int, mode: str, cast) -> None:
    assert status < 500, status
    bg.settle()
    after = bg.snapshot()
    routed = bg.run.tap.records[before["routed"]:]
    logs = bg.records[before["logs"]:]
    bad = [r for r in logs if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]
    if mode not in ("valid", "lower_name", "padded", "dup_valid_first", "dup_wrong_first"):
        assert status in (401, 413), (mode, status)
    if status != 200:
        assert routed == [] and after["oc"] == before["oc"], (mode, status)
        assert (after["line"], after["wa"]) == (before["line"], before["wa"])
        return
    ran = False
    for inbound, reply in routed:
        if allowed(cast, inbound.user_id, inbound.chat_id):
            ran = ran or reply is not None
        else:
            assert reply is None, (inbound.user_id, inbound.text, reply)
    if not ran:
        assert after["oc"] == before["oc"], "OpenClaw called without an allowed command"
        assert (after["line"], after["wa"]) == (before["line"], before["wa"])


def post(bg, platform: str, body: bytes, headers: list, content_type) -> int:
    if content_type is not None:
        headers = headers + [("Content-Type", content_type)]
    path = getattr(bg.cfg, platform).path
    status, _ = bg.request(platform, "POST", path, body, headers)
    return status


# --------------------------------------------------------------------------- the tests

@budget(120)
@given(body=LINE_BODY, mode=SIGNATURES, content_type=CONTENT_TYPES)
def test_line_webhook_fuzz(bg, body, mode, content_type):
    before = bg.snapshot()
    headers = signature_headers("X-Line-Signature", line_sign, body, mode)
    status = post(bg, "line", body, headers, content_type)
    check(bg, before, status, mode, LINE_CAST)


@budget(120)
@given(body=WA_BODY, mode=SIGNATURES, content_type=CONTENT_TYPES)
def test_whatsapp_webhook_fuzz(bg, body, mode, content_type):
    before = bg.snapshot()
    headers = signature_headers("X-Hub-Signature-256", wa_sign, body, mode)
    status = post(bg, "whatsapp", body, headers, content_type)
    check(bg, before, status, mode, WA_CAST)


@budget(60)
@given(text=TEXTS, sender=st.sampled_from(LINE_CAST.roles()), mentioned=st.booleans(),
       mode=st.sampled_from(["valid", "wrong", "missing"]))
def test_commands_through_line_only_run_for_signed_allowed_senders(bg, text, sender,
                                                                   mentioned, mode):
    """Well-formed events with fuzzed text: the parser + permissions + signature, end to end."""
    event = fline.text_event(text, user_id=sender.user, group_id=sender.chat or "")
    if mentioned:
        event["message"]["mention"] = {"mentionees": [{"index": 0, "length": 4,
                                                       "isSelf": True}]}
    body = fline.body_of(event)
    before = bg.snapshot()
    status = post(bg, "line", body, signature_headers("X-Line-Signature", line_sign, body,
                                                       mode), "application/json")
    check(bg, before, status, mode, LINE_CAST)
    routed = bg.run.tap.records[before["routed"]:]
    if mode != "valid":
        assert status == 401 and routed == []
    else:
        assert status == 200 and len(routed) == 1
        inbound, reply = routed[0]
        if reply is not None:
            assert allowed(LINE_CAST, sender.user, sender.chat or "")
            assert "Something went wrong" not in reply.text
            assert "Traceback" not in reply.text


@budget(80)
@given(mode=st.one_of(st.none(), st.sampled_from(["subscribe", "SUBSCRIBE", "unsubscribe"]),
                      st.text(max_size=10)),
       token=st.one_of(st.none(), st.sampled_from([WA_VERIFY, WA_VERIFY + "x", WA_VERIFY[:-1],
                                                    WA_VERIFY.upper(), ""]),
                       st.text(max_size=20)),
       challenge=st.one_of(st.none(), st.text(max_size=30)),
       dup=st.booleans())
def test_whatsapp_verification_fuzz(bg, mode, token, challenge, dup):
    """Only subscribe + the exact verify token echoes the challenge; never a 5xx."""
    query = [(k, v) for k, v in (("hub.mode", mode), ("hub.verify_token", token),
                                 ("hub.challenge", challenge)) if v is not None]
    if dup and token is not None:
        query.append(("hub.verify_token", WA_VERIFY))
    path = bg.cfg.whatsapp.path + "?" + urllib.parse.urlencode(query)
    before = bg.snapshot()
    status, body = bg.request("whatsapp", "GET", path)
    logs = bg.records[before["logs"]:]
    assert not [r for r in logs if r.levelno >= logging.ERROR or r.exc_info]
    assert status < 500
    # Tornado's get_query_argument returns the last value of a repeated key.
    effective = WA_VERIFY if dup and token is not None else token
    if mode == "subscribe" and effective == WA_VERIFY and challenge is not None:
        # Tornado blanks control characters and strips query values; Meta's challenge is
        # digits, so that is harmless.
        echoed = re.sub(r"[\x00-\x08\x0e-\x1f]", " ", challenge).strip()
        assert status == 200 and body == echoed.encode("utf-8")
    else:
        assert status == 403 and body == b"403\n"
    # Raw messages, before the formatter's redaction: the query never reaches a log call.
    assert not any(WA_VERIFY in r.getMessage() for r in bg.records[before["logs"]:])


@budget(150)
@given(text=st.text(max_size=80), other=st.text("abcdefghijklmnopqrstuvwxyz_0123456789",
                                                min_size=1, max_size=12),
       mentioned=st.booleans())
def test_parser_never_runs_a_command_addressed_to_another_bot(text, other, mentioned):
    """``/cmd@other`` and ``@other /cmd`` (not mentioned) are never ours, whatever follows."""
    ours = "ourbot"
    if other.lower() == ours:
        return
    word = "status"
    assert parse("/%s@%s %s" % (word, other, text), ours, mentioned=mentioned) is None
    assert parse("@%s /%s %s" % (other, word, text), ours) is None
    assert parse("@%s: /%s %s" % (other, word, text), ours) is None


# --------------------------------------------------------------------------- found by the fuzz

def _line_event(**changes):
    event = fline.text_event("/help", user_id=LINE_CAST.user.user, event_id="REGRESSION")
    for path, value in changes.items():
        where = event
        *parents, key = path.split("__")
        for name in parents:
            where = where[name]
        where[key] = value
    return event


@pytest.mark.parametrize("body", [
    fline.body_of(_line_event(source__type=["user"])),               # unhashable source type
    fline.body_of(_line_event(message__mention={"mentionees": 5})),  # not a list
    fline.body_of(_line_event(deliveryContext="yes")) * 1,           # redelivery log line
    b"[" * 200_000 + b"]" * 200_000,                                 # RecursionError in json
], ids=["source-type-list", "mentionees-int", "delivery-context-str", "deep-nesting"])
def test_line_signed_oddities_are_not_5xx(bg, body):
    headers = [("X-Line-Signature", line_sign(body)), ("Content-Type", "application/json")]
    for _ in range(2):    # the second time is a redelivery (dedup path)
        before = bg.snapshot()
        status = post(bg, "line", body, headers, None)
        check(bg, before, status, "valid", LINE_CAST)
        assert status in (200, 400)


def test_whatsapp_signed_deep_nesting_is_400_not_500(bg):
    body = b'{"entry":' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    before = bg.snapshot()
    status = post(bg, "whatsapp", body, [("X-Hub-Signature-256", wa_sign(body))],
                  "application/json")
    check(bg, before, status, "valid", WA_CAST)
    assert status == 400


# --------------------------------------------------------------------------- framing and replay

def _signed_line_request(path: str, user: str, text: str = "/help") -> bytes:
    body = fline.body_of(fline.text_event(text, user_id=user))
    return (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"X-Line-Signature: %s\r\nContent-Length: %d\r\n\r\n%s" % (
                path.encode(), line_sign(body).encode(), len(body), body))


def _framing_cases(path: str) -> dict:
    inner = _signed_line_request(path, LINE_CAST.admin.user)
    head = b"POST %s HTTP/1.1\r\nHost: x\r\nX-Line-Signature: x\r\n" % path.encode()
    chunked = b"5\r\nhello\r\n0\r\n\r\n"
    return {
        "negative length": head + b"Content-Length: -1\r\n\r\nabc",
        "float length": head + b"Content-Length: 1e3\r\n\r\nabc",
        "two lengths": head + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "length and chunked": head + b"Content-Length: 3\r\nTransfer-Encoding: chunked"
                                     b"\r\n\r\n" + chunked,
        "gzip, chunked": head + b"Transfer-Encoding: gzip, chunked\r\n\r\n" + chunked,
        "bad chunk size": head + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        "huge chunk size": head + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
        "http/1.0 no length": b"POST %s HTTP/1.0\r\nX-Line-Signature: x\r\n\r\n{}" % (
            path.encode()),
        "huge header": head + b"X-Pad: " + b"p" * (80 << 10) + b"\r\nContent-Length: 0\r\n\r\n",
        "smuggled in the body": head + b"Content-Length: %d\r\n\r\n%s" % (len(inner), inner),
        "smuggled after chunked": head + b"Transfer-Encoding: chunked\r\nContent-Length: 4"
                                         b"\r\n\r\n0\r\n\r\n" + inner,
        "gzip body": head + b"Content-Encoding: gzip\r\nContent-Length: 4\r\n\r\n\x1f\x8b\x08"
                            b"\x00",
    }


@pytest.mark.parametrize("case", sorted(_framing_cases("/x")))
def test_odd_http_framing_never_5xx_and_runs_nothing(bg, case):
    data = _framing_cases(bg.cfg.line.path)[case]
    before = bg.snapshot()
    answer = bg.raw("line", data)
    bg.settle()
    statuses = [int(line.split()[1]) for line in answer.split(b"\r\n")
                if line.startswith(b"HTTP/1.")]
    assert all(s < 500 for s in statuses), (case, statuses)
    assert bg.run.tap.records[before["routed"]:] == [], case
    logs = bg.records[before["logs"]:]
    assert not [r for r in logs if r.levelno >= logging.ERROR or r.exc_info], case


def test_a_signature_for_one_platform_is_worthless_on_the_other(bg):
    """Same server, same body: LINE's signature on the WhatsApp path and the reverse, and
    each platform's header computed with the other platform's secret, are all 401."""
    line_body = fline.body_of(fline.text_event("/status", user_id=LINE_CAST.admin.user))
    wa_body = fwa.body_of(fwa.notification(messages=(fwa.text_message(
        WA_CAST.admin.user, "/status"),)))
    cases = [
        ("whatsapp", line_body, [("X-Line-Signature", line_sign(line_body))]),
        ("whatsapp", wa_body, [("X-Hub-Signature-256", fwa.sign(wa_body, LINE_SECRET))]),
        ("whatsapp", wa_body, [("X-Hub-Signature-256", "sha256=" + line_sign(wa_body))]),
        ("line", wa_body, [("X-Hub-Signature-256", wa_sign(wa_body))]),
        ("line", line_body, [("X-Line-Signature", fline.sign(line_body, WA_SECRET))]),
        ("line", line_body, [("X-Line-Signature", wa_sign(line_body))]),
    ]
    for platform, body, headers in cases:
        before = bg.snapshot()
        status = post(bg, platform, body, headers, "application/json")
        check(bg, before, status, "wrong", CASTS[platform])
        assert status == 401, (platform, headers)


def test_raw_signed_request_control(bg):
    """The control for the framing cases: the same signed request sent plainly runs once."""
    before = bg.snapshot()
    answer = bg.raw("line", _signed_line_request(bg.cfg.line.path, LINE_CAST.admin.user))
    bg.settle()
    assert answer.startswith(b"HTTP/1.1 200")
    routed = bg.run.tap.records[before["routed"]:]
    assert len(routed) == 1 and routed[0][1].text.startswith("Commands:")
