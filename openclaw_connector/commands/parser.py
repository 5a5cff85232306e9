"""Command parsing: chat text → :class:`Command`, or None when it is not for us.

Rules (issue 3): a command starts with ``/``; its word is case-insensitive;
``/cmd@ourbot`` is accepted and ``/cmd@otherbot`` ignored; ``@ourbot /cmd``
is accepted. Arguments are ``k=v`` pairs whose values may be double-quoted
to hold spaces; an apostrophe is a plain character (``prompt="a cat's hat"``);
``--approval`` may stand anywhere; an unbalanced double quote is an error.
Pure functions, no I/O, so they are tested with plain strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

MAX_MESSAGE_CHARS = 2000

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
_PARAM = re.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)=(.*)", re.S)


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

    def param_dict(self) -> dict[str, str]:
        return dict(self.params)


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
    stripped = _strip_address(text.strip(), bot_name, mentioned)
    if stripped is None or not stripped.startswith("/"):
        return None
    head, _, rest = _split_first_whitespace(stripped[1:])
    word, _, target = head.partition("@")
    if target and bot_name and target.lower() != bot_name.lower():
        return None
    if not _WORD.fullmatch(word):
        if not word:
            return None
        return Command(word=word.lower())
    rest = rest.strip()
    args, params, flags = [], [], []
    approval = False
    for token in tokenize(rest):
        if token.lower() == "--approval":
            approval = True
        elif token.startswith("--") and len(token) > 2:
            flags.append(token.lower())
        elif (param := _PARAM.fullmatch(token)) is not None:
            params.append(param.groups())
        else:
            args.append(token)
    return Command(word=word.lower(), args=tuple(args), params=tuple(params),
                   approval=approval, rest=rest, flags=tuple(flags))


def _split_first_whitespace(text: str) -> tuple[str, str, str]:
    match = re.search(r"\s", text)
    if not match:
        return text, "", ""
    return text[:match.start()], match.group(), text[match.end():]
