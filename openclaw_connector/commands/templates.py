"""Templates as chat sees them: the catalogue, free-text binding, input checks.

OpenClaw lists its templates with ``allowed_inputs`` and ``defaults``
(openclaw-api.md §4.7) but enforces neither: an unknown input is silently
ignored and a value of the wrong kind comes back as an opaque
``500 Queue submission failed: 400`` (§6, §10). So ``/run`` checks here,
before anything is submitted, and says which input is wrong, what kind it
expects and which inputs exist. Free words after the template id are the
prompt, bound to the template's text input (``templates.<id>.prompt_input``
in the config, else the first of :data:`TEXT_INPUTS` it allows). Values are
sent with the JSON type of their default (``steps=30`` → ``30``), because the
renderer keeps the type it is given and ComfyUI reads ``"false"`` as true.
``seed=random`` draws a seed when the run is bound (the Again button carries
it, so every tap is a new image); the caption shows the seed drawn.

The catalogue is read from OpenClaw at most once per ``refresh_sec`` (the
server hot-reloads its manifest); when a refresh fails the last list is used.
"""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

from openclaw_connector.commands.parser import split_param
from openclaw_connector.openclaw.types import OpenClawError, Template

TEXT_INPUTS = ("prompt", "positive", "positive_prompt", "text")
CATALOGUE_REFRESH_SEC = 60.0
SEED_LIMIT = 2 ** 31               # fits every integer seed input ComfyUI nodes declare
RANDOM_SEED = "random"             # seed=random: draw one for this run
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class InputError(ValueError):
    """A /run line that cannot be submitted; the message is the chat reply."""


@dataclass(frozen=True)
class BoundRun:
    """What ``/run`` submits: typed inputs, and the lines its result caption shows."""

    inputs: dict
    shown: dict          # inputs that differ from the defaults, plus the seed


class TemplateCatalogue:
    """The server's template list, cached for ``refresh_sec``."""

    def __init__(self, openclaw: Any, *, refresh_sec: float = CATALOGUE_REFRESH_SEC,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._oc = openclaw
        self._refresh_sec = refresh_sec
        self._clock = clock
        self._items: Optional[tuple[Template, ...]] = None
        self._fetched_at = -math.inf

    async def all(self) -> tuple[Template, ...]:
        """Every template, sorted by id; raises the client's error only with no list yet."""
        if self._items is None or self._clock() - self._fetched_at >= self._refresh_sec:
            try:
                items = await self._oc.templates()
            except OpenClawError:
                if self._items is None:
                    raise
            else:
                self._items = tuple(sorted(items, key=lambda t: t.id))
            self._fetched_at = self._clock()   # a failing server is asked once a minute too
        return self._items or ()

    async def get(self, template_id: str) -> Optional[Template]:
        return next((t for t in await self.all() if t.id == template_id), None)


def new_seed() -> int:
    return secrets.randbelow(SEED_LIMIT - 1) + 1


def typed_value(key: str, value: str, kind: str) -> Any:
    """``value`` as ``kind``, with ``seed=random`` drawn here; ValueError if it is not one."""
    if key == "seed" and value.strip().lower() == RANDOM_SEED:
        return new_seed()
    return convert(value, kind)


def kind_of(default: Any) -> str:
    """The kind a default's JSON type asks for: int, float, bool or string."""
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    return "string"


_KIND_WORDS = {"int": "a whole number", "float": "a number", "bool": "true or false",
               "string": "text"}


def convert(value: str, kind: str) -> Any:
    """``value`` as ``kind``; ValueError when it is not one."""
    text = value.strip()
    if kind == "int":
        return int(text)   # Python's int() also reads full-width digits
    if kind == "float":
        number = float(text)
        if not math.isfinite(number):
            raise ValueError(text)
        return number
    if kind == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(text)
    return value


def text_input(template: Template, configured: Optional[str] = None) -> Optional[str]:
    """The input that takes free text: the configured one, else the first known name."""
    if configured:
        return configured
    names = inputs_of(template)
    return next((n for n in TEXT_INPUTS if n in names), None)


def inputs_of(template: Template) -> list[str]:
    """Allowed inputs, then inputs that only have a default, in their order."""
    names = list(template.allowed_inputs)
    names += [k for k in template.defaults if k not in names]
    return names


def describe_inputs(template: Template) -> str:
    """``prompt, seed (default 0), width (default 256)``."""
    parts = []
    for name in inputs_of(template):
        if name in template.defaults:
            parts.append("%s (default %s)" % (name, _show(template.defaults[name])))
        else:
            parts.append(name)
    return ", ".join(parts) if parts else "none declared"


def bind(template: Template, tokens: Sequence[str], *, prompt_input: Optional[str] = None,
         image_input: Optional[str] = None) -> BoundRun:
    """Sort ``tokens`` into inputs and free text, check and type them (raises InputError).
    The configured ``prompt_input`` and ``image_input`` count as declared inputs."""
    names = inputs_of(template)
    declared = bool(names)
    raw: dict[str, str] = {}
    words: list[str] = []
    for token in tokens:
        pair = split_param(token)
        if pair is None:
            words.append(token)
            continue
        key, value = pair
        if declared and key not in names and key not in (prompt_input, image_input):
            raise InputError(_unknown(template, key))
        raw[key] = value
    target = text_input(template, prompt_input)
    if words:
        if target is None:
            raise InputError("Template %s takes no free text; give its inputs as key=value. "
                             "Inputs: %s." % (template.id, describe_inputs(template)))
        if target in raw:
            raise InputError("The prompt is given twice: as %s=... and as free text. Use one "
                             "of them." % target)
        raw[target] = " ".join(words)
    inputs: dict[str, Any] = {}
    for key, value in raw.items():
        kind = kind_of(template.defaults[key]) if key in template.defaults else "string"
        try:
            inputs[key] = typed_value(key, value, kind)
        except ValueError:
            what = _KIND_WORDS[kind] + (" or random" if key == "seed" else "")
            raise InputError('%s must be %s (default %s), got "%s".' % (
                key, what, _show(template.defaults.get(key)), value)) from None
    order = sorted(inputs, key=lambda k: (k != target, k == "seed"))   # prompt first
    shown = {k: inputs[k] for k in order
             if k not in template.defaults or template.defaults[k] != inputs[k]}
    if "seed" in names:
        seed = inputs.get("seed", template.defaults.get("seed"))
        if seed is not None:
            shown["seed"] = seed
    return BoundRun(inputs, shown)


def shown_inputs(template: Optional[Template], inputs: Mapping) -> dict:
    """The caption's inputs for a run someone else submitted (an approval)."""
    defaults = template.defaults if template is not None else {}
    shown = {k: v for k, v in inputs.items() if k not in defaults or str(defaults[k]) != str(v)}
    if "seed" in defaults or "seed" in inputs:
        shown["seed"] = inputs.get("seed", defaults.get("seed"))
    return shown


def _unknown(template: Template, key: str) -> str:
    import difflib   # only for a mistyped input name: kept out of every start
    close = difflib.get_close_matches(key, inputs_of(template), n=1, cutoff=0.6)
    hint = ' (did you mean "%s"?)' % close[0] if close else ""
    return ('Template %s has no input "%s"%s. Inputs: %s. To put "=" in a prompt, quote '
            'it: prompt="a=b".' % (template.id, key, hint, describe_inputs(template)))


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"%s"' % value
    return str(value)


def catalogue_line(template: Template, prompt_input: Optional[str] = None) -> str:
    """One ``/templates`` line: id, inputs with defaults, which one takes free text."""
    target = text_input(template, prompt_input)
    free = "free text → %s" % target if target else "no free text"
    return "%s: %s; %s" % (template.id, describe_inputs(template), free)


def catalogue_full(template: Template, prompt_input: Optional[str] = None) -> str:
    """``/templates <id>``: every input on its own line, with kind and default."""
    target = text_input(template, prompt_input)
    lines = ["Template %s" % template.id]
    names = inputs_of(template)
    if not names:
        lines.append("Inputs: none declared (the server lists none for it)")
    for name in names:
        if name in template.defaults:
            default = template.defaults[name]
            line = "  %s: %s, default %s" % (name, _KIND_WORDS[kind_of(default)], _show(default))
        else:
            line = "  %s: text, no default" % name
        if name == target:
            line += " (free text goes here)"
        lines.append(line)
    example = "/run %s" % template.id
    if target:
        example += " a red fox at dusk"
    numeric = next((n for n in names if n in template.defaults
                    and kind_of(template.defaults[n]) in ("int", "float")), None)
    if numeric:
        example += " %s=%s" % (numeric, _show(template.defaults[numeric]))
    lines.append("Example: %s" % example)
    return "\n".join(lines)
