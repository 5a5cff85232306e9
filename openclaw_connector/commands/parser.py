"""Command parsing: chat text → :class:`Command`, or None when it is not for us.

Rules (issue 3): a command starts with ``/``; its word is case-insensitive;
``/cmd@ourbot`` is accepted and ``/cmd@otherbot`` ignored; ``@ourbot /cmd``
is accepted. Arguments are ``k=v`` pairs whose values may be double-quoted
to hold spaces; an apostrophe is a plain character (``prompt="a cat's hat"``);
``--approval`` may stand anywhere; an unbalanced double quote is an error.
Text is first normalised for phone keyboards (:func:`normalise`): an em-dash
before a word (``—approval``), curly double quotes, non-breaking and
ideographic spaces, and full-width forms in the command word and in
``k＝v`` separators mean what their ASCII twins mean.
Pure functions, no I/O, so they are tested with plain strings.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Optional

MAX_MESSAGE_CHARS = 2000

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
_PARAM = re.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)=(.*)", re.S)

# What phones type for what the parser reads: smart punctuation and CJK input.
_SPACES = dict.fromkeys(map(ord, "\u00a0\u2007\u202f\u3000\u2002\u2003\u2009"), " ")
_QUOTES = dict.fromkeys(map(ord, "\u201c\u201d\u201e\u201f\u2033\uff02\u00ab\u00bb"), '"')
_FULLWIDTH_SEPARATORS = {ord("\uff1d"): "=", ord("\uff0f"): "/", ord("\uff20"): "@"}
# An em/en dash or a minus sign that starts a word was "--" before autocorrect.
_LEADING_DASH = re.compile(r"(?:(?<=\s)|^)[\u2014\u2013\u2212](?=[A-Za-z])")


class ParseError(ValueError):
    """The text is a command for us but its arguments cannot be read."""


@dataclass(frozen=True)
class Command:
    """One parsed command: ``/run tpl a=1 "b c" --approval``.

    ``args`` are the positional tokens, ``params`` the ``k=v`` pairs in
    order, ``rest`` the raw text after the word (for free-text arguments
    such as a rejection reason).
    """

    word: str
    args: tuple[str, ...] = ()
    params: tuple[tuple[str, str], ...] = ()
    approval: bool = False
    rest: str = ""
    flags: tuple[str, ...] = field(default=())
    # Every argument token in order (``k=v`` ones included, flags left out), for
    # commands that read free text around their inputs (/run).
    tokens: tuple[str, ...] = ()


def normalise(text: str) -> str:
    """Undo what phone keyboards do to a command: ``—approval``, ``“a fox”``, ``／run``,
    ``k＝v``, non-breaking and ideographic spaces. The command word (up to the first
    space) gets full NFKC, so ``／ｒｕｎ`` is ``/run``; the rest keeps its characters
    except those separators, so a prompt in Japanese or with an en dash stays as typed."""
    text = text.translate(_SPACES).translate(_QUOTES).translate(_FULLWIDTH_SEPARATORS)
    text = _LEADING_DASH.sub("--", text)
    head, sep, tail = text.lstrip().partition(" ")
    if head.startswith("/") or head.startswith("@"):
        head = unicodedata.normalize("NFKC", head)
    return head + sep + tail


def _strip_address(text: str, bot_name: str, mentioned: bool = False) -> Optional[str]:
    """Remove a leading ``@ourbot``; None when it names another bot.

    When the platform says we were mentioned (LINE gives no bot user name, and
    display names may hold spaces: ``@My Bot /status``), the command starts at
    the first ``/`` that follows whitespace.
    """
    if not text.startswith("@"):
        return text
    head, _, tail = text.partition(" ")
    name = head[1:].rstrip(":,")
    if bot_name and name.lower() == bot_name.lower():
        return tail.lstrip()
    if mentioned:
        match = re.search(r"\s(/\S)", text)
        if match:
            return text[match.start(1):]
    return None


def tokenize(text: str) -> list[str]:
    """Split on whitespace; double quotes group (and are removed); apostrophes are plain."""
    tokens: list[str] = []
    current: list[str] = []
    in_quote = False
    started = False
    for ch in text:
        if ch == '"':
            in_quote = not in_quote
            started = True
        elif ch.isspace() and not in_quote:
            if started:
                tokens.append("".join(current))
            current, started = [], False
        else:
            current.append(ch)
            started = True
    if in_quote:
        raise ParseError('Unbalanced quote in arguments: close every " you open.')
    if started:
        tokens.append("".join(current))
    return tokens


def parse(text: str, bot_name: str = "", *, mentioned: bool = False) -> Optional[Command]:
    """Parse ``text``; None when it is no command or is addressed to another bot."""
    stripped = _strip_address(normalise(text).strip(), bot_name, mentioned)
    if stripped is None or not stripped.startswith("/"):
        return None
    head, _, rest = _split_first_whitespace(stripped[1:])
    head = unicodedata.normalize("NFKC", head)   # ／ｒｕｎ after an @mention, too
    word, _, target = head.partition("@")
    if target and bot_name and target.lower() != bot_name.lower():
        return None
    if not _WORD.fullmatch(word):
        if not word:
            return None
        return Command(word=word.lower())
    rest = rest.strip()
    args, params, flags, tokens = [], [], [], []
    approval = False
    for token in tokenize(rest):
        if token.lower() == "--approval":
            approval = True
            continue
        if token.startswith("--") and len(token) > 2:
            flags.append(token.lower())
            continue
        tokens.append(token)
        if (param := _PARAM.fullmatch(token)) is not None:
            params.append((param.group(1), param.group(2)))
        else:
            args.append(token)
    return Command(word=word.lower(), args=tuple(args), params=tuple(params),
                   approval=approval, rest=rest, flags=tuple(flags), tokens=tuple(tokens))


def split_param(token: str) -> Optional[tuple[str, str]]:
    """``("k", "v")`` when ``token`` is a ``k=v`` pair, else None."""
    match = _PARAM.fullmatch(token)
    return (match.group(1), match.group(2)) if match else None


def _split_first_whitespace(text: str) -> tuple[str, str, str]:
    match = re.search(r"\s", text)
    if not match:
        return text, "", ""
    return text[:match.start()], match.group(), text[match.end():]
