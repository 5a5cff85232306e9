"""Parsing and checking one config value (config/ declares the keys).

Each key's ``kind`` (its field metadata) picks the rule: ids per platform,
booleans in the spellings config.md allows, numbers and ranges, URLs by
scheme, URL paths, hosts. A problem is raised as :class:`Problem` with the
sentence the user reads after the key path; a list reports each bad item.
"""

from __future__ import annotations

import os
import re
from types import MappingProxyType
from typing import Any, Mapping
from urllib.parse import urlparse

_ID_RULES = {
    # rule name: (regex for the bare id, what to tell the user)
    "telegram_user": (r"\d{1,20}", "a user id (digits)"),
    "telegram_chat": (r"-?\d{1,20}", "a chat id (digits, negative for groups)"),
    "snowflake": (r"\d{5,25}", "a Discord id (digits)"),
    "line_user": (r"U[0-9A-Za-z]{4,64}", "a LINE user id (U followed by hex)"),
    "line_group": (r"[CR][0-9A-Za-z]{4,64}", "a LINE group or room id (C… or R…)"),
    "wa_id": (r"\d{5,20}", "a WhatsApp wa_id (the phone number in digits)"),
    "admin": (r"[A-Za-z0-9_.+-]{1,100}", "a user id, bare or as platform:id"),
}
PLATFORMS = ("telegram", "discord", "line", "whatsapp", "console")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_LEVELS = {"debug", "info", "warning", "error", "critical"}


def id_pattern(rule: str) -> str:
    """The regex a bare id of ``rule`` matches (tells which platforms an id could be on)."""
    return _ID_RULES[rule][0]


def describe(value: Any) -> str:
    if isinstance(value, str):
        return '"%s"' % value
    if value is None:
        return "nothing"
    return "%s %r" % (type(value).__name__, value)


class Problem(ValueError):
    pass


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise Problem("expected true or false (also yes/no, 1/0), got %s" % describe(value))


def _parse_number(value: Any, *, integer: bool) -> float:
    if isinstance(value, bool):
        raise Problem("expected a number, got %s" % describe(value))
    if isinstance(value, str):
        try:
            value = float(value.strip()) if not integer else int(value.strip())
        except ValueError:
            raise Problem("expected a %s, got %s" % (
                "whole number" if integer else "number", describe(value))) from None
    if not isinstance(value, (int, float)):
        raise Problem("expected a number, got %s" % describe(value))
    if integer and (isinstance(value, float) and not value.is_integer()):
        raise Problem("expected a whole number, got %s" % describe(value))
    return int(value) if integer else float(value)


def _parse_id(value: Any, rule: str, *, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Problem("expected %s, got %s" % (_ID_RULES[rule][1], describe(value)))
    text = str(value).strip()
    pattern, what = _ID_RULES[rule]
    bare = text
    if ":" in text:
        prefix, bare = text.split(":", 1)
        if prefix not in PLATFORMS:
            raise Problem('unknown platform prefix "%s" (use one of %s)' % (
                prefix, ", ".join(PLATFORMS[:4])))
        if rule != "admin" and prefix != where:
            raise Problem('"%s" names another platform; this list is for %s' % (text, where))
    if rule == "wa_id" or (rule == "admin" and text.startswith("whatsapp:")
                           and re.fullmatch(r"[+\d\s().-]+", bare)):
        wa_id = _wa_id(bare, value)
        return wa_id if rule == "wa_id" and ":" not in text else "whatsapp:" + wa_id
    if not re.fullmatch(pattern, bare):
        raise Problem("expected %s, got %s" % (what, describe(value)))
    return text


def _wa_id(number: str, value: Any) -> str:
    """A phone number as WhatsApp's wa_id: international form, digits only.

    Meta sends ``from`` as bare digits, so ``+1 555-123 4567`` would never
    match as written; a leading 0 is a national-format number whose country
    code cannot be guessed, so it is refused with the fix.
    """
    digits = re.sub(r"[\s().-]", "", number)
    if digits.startswith("+"):
        digits = digits[1:]
    if digits.startswith("0"):
        raise Problem("%s is a national-format number (leading 0); write it in "
                      "international form without the 0, country code first, e.g. "
                      "447700900123 for the UK number 07700 900123" % describe(value))
    if not re.fullmatch(r"\d{5,20}", digits):
        raise Problem("expected a WhatsApp wa_id (the phone number in digits), got %s" % (
            describe(value)))
    return digits


def _check_url(value: str, schemes: tuple[str, ...], what: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.netloc:
        raise Problem("expected %s, got %s" % (what, describe(value)))
    return value.rstrip("/")


def parse_value(value: Any, meta: Mapping, section: str) -> Any:
    kind = meta["kind"]
    if kind == "ids":
        if isinstance(value, str):
            value = [v for v in (p.strip() for p in value.split(",")) if v]
        if isinstance(value, (int,)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise Problem("expected a list of ids, got %s" % describe(value))
        out, bad = [], []
        for i, item in enumerate(value):
            try:
                out.append(_parse_id(item, meta["ids"], where=section))
            except Problem as exc:
                bad.append((i, str(exc)))
        if bad:
            raise ListProblem(bad)
        return tuple(out)
    if kind == "hosts":
        if isinstance(value, str):
            value = [v for v in (p.strip() for p in value.split(",")) if v]
        if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, str) and v.strip() and " " not in v.strip() for v in value):
            raise Problem("expected a list of host names, addresses or CIDR blocks "
                          "(like NO_PROXY: example.com, .internal, 10.0.0.0/8), got %s"
                          % describe(value))
        return tuple(v.strip() for v in value)
    if kind == "bool":
        return _parse_bool(value)
    if kind == "template_options":
        return _parse_template_options(value)
    if isinstance(value, (dict, list)):
        raise Problem("expected a single value, got a %s" % (
            "mapping" if isinstance(value, dict) else "list"))
    if kind in ("seconds", "positive"):
        number = _parse_number(value, integer=False)
        if number < 0 or (kind == "positive" and number == 0):
            raise Problem("expected a positive number, got %s" % describe(value))
        return number
    if kind == "positive_int":
        number = _parse_number(value, integer=True)
        if number <= 0:
            raise Problem("expected a whole number above 0, got %s" % describe(value))
        return number
    if kind == "port":
        number = _parse_number(value, integer=True)
        if not 0 <= number <= 65535:
            raise Problem("port out of range (0-65535; 0 binds a free port, logged at "
                          "start), got %s" % describe(value))
        return number
    if kind == "poll_timeout":
        number = _parse_number(value, integer=True)
        if not 0 <= number <= 50:
            raise Problem("expected 0 to 50 seconds (Telegram holds a poll 50 s at most), "
                           "got %s" % describe(value))
        return number
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise Problem("expected text, got %s" % describe(value))
    text = str(value).strip()
    if kind == "url":
        return _check_url(text, ("http", "https"), "an http:// or https:// URL")
    if kind == "https_url":
        return _check_url(text, ("https",),
                          "an https:// URL (LINE and WhatsApp fetch media only over HTTPS)")
    if kind == "proxy_url":
        text = text if "://" in text else "http://" + text
        parsed = urlparse(text)
        if parsed.scheme != "http" or not parsed.hostname:
            # Not describe(value): a proxy URL may carry a password.
            raise Problem("expected an http:// proxy URL (http://host:port, optionally "
                          "http://user:password@host:port); %s proxies are not supported"
                          % (parsed.scheme + "://" if parsed.scheme != "http" else
                             "host-less"))
        try:
            parsed.port
        except ValueError:
            raise Problem("the proxy URL's port is not a number in 1-65535 (expected "
                          "http://host:port)") from None
        return text
    if kind == "ws_url":
        return _check_url(text, ("ws", "wss"), "a ws:// or wss:// URL")
    if kind == "url_path":
        if not text.startswith("/") or "?" in text or " " in text:
            raise Problem('expected a URL path starting with "/", got %s' % describe(value))
        return text.rstrip("/") or "/"
    if kind == "host":
        if not text or " " in text or "/" in text:
            raise Problem("expected a host name or IP address, got %s" % describe(value))
        return text
    if kind == "template_id":
        if not re.fullmatch(_TEMPLATE_ID, text):
            raise Problem("expected a template id (as /templates lists it), got %s"
                          % describe(value))
        return text
    if kind == "digits":
        if not text.isdigit():
            raise Problem("expected digits, got %s" % describe(value))
        return text
    if kind == "level":
        if text.lower() not in _LEVELS:
            raise Problem("expected one of %s, got %s" % (", ".join(sorted(_LEVELS)),
                                                          describe(value)))
        return text.lower()
    if kind == "path":
        return os.path.expanduser(text)
    return text


_TEMPLATE_OPTIONS = ("prompt_input", "image_input", "followups")
_TEMPLATE_ID = r"[A-Za-z0-9_.-]{1,100}"
MAX_FOLLOWUPS = 10
FOLLOWUP_LABEL_LIMIT = 20          # LINE's and WhatsApp's button label limit (interactive.md §1)
RESERVED_LABELS = ("Again", "Details")


class KeyProblem(Problem):
    """A problem below the key being parsed: ``subkey`` extends its path
    (``templates`` + ``portrait.followups``)."""

    def __init__(self, subkey: str, text: str) -> None:
        super().__init__(text)
        self.subkey = subkey


def _parse_template_options(value: Any) -> Mapping[str, Mapping[str, Any]]:
    """``templates: {portrait: {prompt_input: positive}}`` as a read-only mapping; from
    the environment ``"portrait:positive, poster:prompt"``."""
    if isinstance(value, str):
        pairs = [p.strip().split(":", 1) for p in value.split(",") if p.strip()]
        if any(len(p) != 2 for p in pairs):
            raise Problem('expected "template:input" pairs separated by commas, got %s'
                          % describe(value))
        value = {tid.strip(): {"prompt_input": name.strip()} for tid, name in pairs}
    if not isinstance(value, dict):
        raise Problem("expected a mapping of template id to options "
                      "(templates: {portrait: {prompt_input: positive}}), got %s"
                      % describe(value))
    out = {}
    for tid, options in value.items():
        if not isinstance(options, dict):
            raise KeyProblem(str(tid), "expected a mapping such as {prompt_input: prompt}, "
                             "got %s" % describe(options))
        parsed: dict[str, Any] = {}
        for key, item in options.items():
            where = "%s.%s" % (tid, key)
            if key not in _TEMPLATE_OPTIONS:
                raise KeyProblem(where, "unknown key (the options are %s)"
                                 % ", ".join('"%s"' % o for o in _TEMPLATE_OPTIONS))
            if key == "followups":
                parsed[key] = _parse_followups(where, item)
                continue
            if not isinstance(item, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*",
                                                               item):
                raise KeyProblem(where, "expected an input name, got %s" % describe(item))
            parsed[key] = item
        out[str(tid)] = MappingProxyType(parsed)
    return MappingProxyType(out)


def _parse_followups(where: str, value: Any) -> Mapping[str, str]:
    """``followups: {Upscale: upscale_4x}``: button label -> template the result feeds."""
    example = "(followups: {Upscale: upscale_4x})"
    if not isinstance(value, dict):
        raise KeyProblem(where, "expected a mapping of button label to template id %s, "
                         "got %s" % (example, describe(value)))
    if len(value) > MAX_FOLLOWUPS:
        raise KeyProblem(where, "%d follow-ups; at most %d per template fit under a result "
                         "(remove some)" % (len(value), MAX_FOLLOWUPS))
    seen: set[str] = set()
    for label, target in value.items():
        if not isinstance(label, str) or not 1 <= len(label.strip()) <= FOLLOWUP_LABEL_LIMIT:
            raise KeyProblem(where, "button label %s: expected text of 1 to %d characters "
                             "(what the button shows) %s" % (describe(label),
                                                            FOLLOWUP_LABEL_LIMIT, example))
        folded = label.strip().lower()
        if folded in (r.lower() for r in RESERVED_LABELS):
            raise KeyProblem(where, "button label %s: Again and Details are the result's own "
                             "buttons; choose another label" % describe(label))
        if folded in seen:
            raise KeyProblem(where, "button label %s: given twice (labels must differ, "
                             "ignoring case)" % describe(label))
        seen.add(folded)
        if not isinstance(target, str) or not re.fullmatch(_TEMPLATE_ID, target.strip()):
            raise KeyProblem(where, "%s: expected a template id (as /templates lists it), "
                             "got %s %s" % (label, describe(target), example))
    return MappingProxyType({label.strip(): target.strip() for label, target in value.items()})


class ListProblem(Problem):
    def __init__(self, items: list[tuple[int, str]]) -> None:
        super().__init__(items[0][1])
        self.items = items
