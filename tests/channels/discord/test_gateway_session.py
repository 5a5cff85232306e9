"""The sans-I/O gateway state machine, frame in, actions out (platforms.md §2)."""

from __future__ import annotations

import pytest

from openclaw_connector.channels.discord.gateway import CLOSE_RECONNECT, CLOSE_ZOMBIE, \
    INTENTS, Close, Dispatch, Fatal, GatewaySession, Reconnect, Send, StartHeartbeat

TOKEN = "tok"


def hello(ms: float = 41250) -> dict:
    return {"op": 10, "d": {"heartbeat_interval": ms}, "s": None, "t": None}


def ready(seq: int = 1) -> dict:
    return {"op": 0, "t": "READY", "s": seq, "d": {
        "session_id": "sess1", "resume_gateway_url": "wss://resume.example",
        "user": {"id": "42", "username": "openclaw"}}}


def connected(rng: float = 0.5) -> GatewaySession:
    """A session that identified and got READY (seq 1)."""
    s = GatewaySession(TOKEN, rng=lambda: rng, invalid_session_wait=5.0)
    s.connection_made()
    s.receive(hello())
    s.receive(ready())
    return s


def test_hello_starts_jittered_heartbeat_and_identifies_with_intents():
    """HELLO: first beat after interval x random(), then IDENTIFY with our four intents."""
    s = GatewaySession(TOKEN, rng=lambda: 0.25)
    s.connection_made()
    actions = s.receive(hello(40000))
    assert actions[0] == StartHeartbeat(interval=40.0, first_delay=10.0)
    assert isinstance(actions[1], Send) and actions[1].frame["op"] == 2
    d = actions[1].frame["d"]
    assert d["token"] == TOKEN and d["intents"] == INTENTS == 37377


def test_ready_keeps_session_and_dispatch_tracks_seq():
    """READY stores session id, resume URL and our id; every dispatch updates seq."""
    s = connected()
    assert (s.state.session_id, s.state.resume_url, s.user_id, s.username) == \
        ("sess1", "wss://resume.example", "42", "openclaw")
    out = s.receive({"op": 0, "t": "MESSAGE_CREATE", "s": 7, "d": {"id": "1"}})
    assert out == [Dispatch("MESSAGE_CREATE", {"id": "1"})] and s.state.seq == 7
    assert s.heartbeat() == Send({"op": 1, "d": 7})


def test_next_connection_resumes_with_last_seq():
    """With a session, HELLO on the new connection sends RESUME, not IDENTIFY."""
    s = connected()
    s.receive({"op": 0, "t": "X", "s": 5, "d": {}})
    s.connection_lost(None)
    s.connection_made()
    actions = s.receive(hello())
    assert actions[1] == Send({"op": 6, "d": {"token": TOKEN, "session_id": "sess1",
                                              "seq": 5}})


def test_missing_ack_closes_as_zombie_and_resumes():
    """No ACK since the last beat: close with 4000 (never 1000) and resume."""
    s = connected()
    assert isinstance(s.heartbeat(), Send)
    assert s.heartbeat() == Close(CLOSE_ZOMBIE, "heartbeat_ack_missing")
    verdict = s.connection_lost(CLOSE_ZOMBIE)
    assert isinstance(verdict, Reconnect) and verdict.resume and verdict.immediate


def test_ack_keeps_connection_alive():
    """An ACK between beats means the next timer tick beats again."""
    s = connected()
    s.heartbeat()
    s.receive({"op": 11})
    assert isinstance(s.heartbeat(), Send)


def test_server_heartbeat_request_is_answered_at_once():
    """Op 1 from the server gets an immediate beat with the last seq."""
    s = connected()
    assert s.receive({"op": 1, "d": None}) == [Send({"op": 1, "d": 1})]


def test_op7_reconnect_resumes():
    """Op 7: close with a non-1000 code, resume straight away."""
    s = connected()
    assert s.receive({"op": 7, "d": None}) == [Close(CLOSE_RECONNECT, "op7_reconnect")]
    verdict = s.connection_lost(CLOSE_RECONNECT)
    assert verdict == Reconnect(True, "op7_reconnect", immediate=True)


def test_op9_resumable_resumes():
    s = connected()
    s.receive({"op": 9, "d": True})
    assert s.connection_lost(None) == Reconnect(True, "op9_resumable", immediate=True)
    assert s.can_resume


@pytest.mark.parametrize("rng,wait", [(0.0, 1.0), (1.0, 5.0)])
def test_op9_not_resumable_forgets_session_and_waits_1_to_5_s(rng, wait):
    """Op 9 d=false: forget the session, IDENTIFY anew after 1-5 s."""
    s = connected(rng=rng)
    s.receive({"op": 9, "d": False})
    verdict = s.connection_lost(4900)
    assert isinstance(verdict, Reconnect) and not verdict.resume
    assert verdict.wait == pytest.approx(wait)
    assert not s.can_resume and s.user_id == "42"


@pytest.mark.parametrize("code", [4004, 4010, 4011, 4012, 4013, 4014])
def test_fatal_close_codes(code):
    """4004 and 4010-4014 stop the channel; reconnecting cannot help."""
    verdict = connected().connection_lost(code)
    assert isinstance(verdict, Fatal) and verdict.code == code


def test_4014_names_the_portal_switch():
    verdict = connected().connection_lost(4014)
    assert "enable the Message Content intent in the Developer Portal" in verdict.reason


@pytest.mark.parametrize("code", [4007, 4009])
def test_new_session_closes_identify(code):
    s = connected()
    verdict = s.connection_lost(code)
    assert isinstance(verdict, Reconnect) and not verdict.resume and not s.can_resume


@pytest.mark.parametrize("code", [None, 1000, 1001, 1006, 4000, 4001, 4002, 4003, 4005,
                                  4008])
def test_other_closes_resume_with_backoff(code):
    """Network drops and other codes resume, through the backoff (not immediate)."""
    verdict = connected().connection_lost(code)
    assert isinstance(verdict, Reconnect) and verdict.resume and not verdict.immediate


def test_close_before_any_session_identifies():
    s = GatewaySession(TOKEN)
    s.connection_made()
    assert s.connection_lost(4000) == Reconnect(False, "close_4000")


def test_restore_round_trip_and_junk_ignored():
    """A persisted session restores; non-dict frames and unknown ops are ignored."""
    s = connected()
    t = GatewaySession(TOKEN)
    t.restore(s.state.as_dict())
    assert t.can_resume and t.state.seq == 1 and t.user_id == "42"
    assert t.receive("junk") == [] and t.receive({"op": 99}) == []


def test_bad_hello_closes_without_1000():
    s = GatewaySession(TOKEN)
    s.connection_made()
    actions = s.receive({"op": 10, "d": {}})
    assert actions == [Close(CLOSE_ZOMBIE, "bad_hello")]
