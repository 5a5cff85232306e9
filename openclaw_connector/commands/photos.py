"""A user's photo as a template input: which photo a ``/run`` means, and getting it
into ComfyUI (issue 19; interactive.md §3, §6.5-6.7).

Which photo, first match wins:

1. a reply to one of **our own results**: that output file, as
   ``"<name> [output]"`` (§6.6), with no download and no upload;
2. the photo the message carries (caption ``/run invert``) or replies to;
3. a reply to a recent photo by its message id (LINE ``quotedMessageId``,
   WhatsApp ``context``), from the photos remembered per message;
4. the last photo the same user sent in the same chat within
   ``media.input_window_sec``.

It binds to ``templates.<id>.image_input``, else the first of
:data:`IMAGE_INPUTS` the template allows. A photo given explicitly (1-3) to a
template without an image input is refused; a remembered one (4) is simply
not used. The photo is fetched through the channel (``PhotoFetch``, capped
at ``media.max_in_mb`` while streaming), checked (:mod:`media_in`) and
uploaded under a generated name (``openclaw/<platform>_<chat>_<message>.<ext>``),
never the user's. Memory lives in the StateStore as expiring rows, so a
restart inside the window keeps it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Optional

from openclaw_connector import log as logmod
from openclaw_connector.media_in import RESULT_OUTPUTS, check_image, result_name, \
    too_large_text
from openclaw_connector.messages import Inbound, PhotoFetch, PhotoRef, PhotoUnavailable, Reply
from openclaw_connector.openclaw.types import Template

log = logmod.get("commands")

IMAGE_INPUTS = ("image", "input_image", "init_image")
SUBFOLDER = "openclaw"
LAST_PHOTO = "photo.last"       # StateStore namespace: platform:chat:user -> PhotoRef
PHOTO_BY_MESSAGE = "photo.msg"  # platform:chat:message id -> PhotoRef
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def image_input(template: Template, configured: Optional[str] = None) -> Optional[str]:
    """The input a photo binds to: the configured one, else the first known name."""
    if configured:
        return configured
    names = list(template.allowed_inputs) + [k for k in template.defaults
                                             if k not in template.allowed_inputs]
    return next((n for n in IMAGE_INPUTS if n in names), None)


def upload_name(photo: PhotoRef, ext: str) -> str:
    """``<platform>_<chat>_<message>.<ext>``: unique per chat message, never the user's."""
    parts = [_UNSAFE.sub("", p)[:64] or "x" for p in (photo.platform, photo.chat_id,
                                                      photo.message_id)]
    return "%s.%s" % ("_".join(parts), ext)


@dataclass(frozen=True)
class PhotoChoice:
    """The photo a /run means: a ready LoadImage value, or a photo still to fetch."""

    value: str = ""
    photo: Optional[PhotoRef] = None
    explicit: bool = True       # given on purpose (caption, reply): refuse if unusable


class PhotoInputs:
    """Remembers chat photos and turns the chosen one into a LoadImage value."""

    def __init__(self, state: Any, fetch: Optional[PhotoFetch], *, window_sec: float,
                 max_bytes: int, configured: Callable[[str], Optional[str]]) -> None:
        self._last = state.kv(LAST_PHOTO)
        self._by_message = state.kv(PHOTO_BY_MESSAGE)
        self._outputs = state.kv(RESULT_OUTPUTS)
        self._fetch = fetch
        self._window = window_sec
        self._max_bytes = max_bytes
        self._configured = configured

    @property
    def window_sec(self) -> float:
        return self._window

    def input_for(self, template: Template) -> Optional[str]:
        return image_input(template, self._configured(template.id))

    def remember(self, inbound: Inbound) -> None:
        """Keep the photo this message carries: the chat's last, and by its message id."""
        photo = inbound.photo
        if photo is None or photo.message_id != inbound.message_id:
            return       # a reply to an older photo is not a new photo
        text = photo.to_json()
        self._last.put_expiring(_name(inbound.platform, inbound.chat_id, inbound.user_id),
                                text, self._window)
        self._by_message.put_expiring(_name(inbound.platform, inbound.chat_id,
                                            photo.message_id), text, self._window)

    def choose(self, inbound: Inbound) -> Optional[PhotoChoice]:
        """The photo ``inbound`` means, in the order of the module docstring."""
        if inbound.reply_to:
            output = self._outputs.get_expiring(result_name(inbound.platform,
                                                            inbound.chat_id, inbound.reply_to))
            if output:
                return PhotoChoice(value=output)
        if inbound.photo is not None:
            return PhotoChoice(photo=inbound.photo)
        if inbound.reply_to:
            quoted = self._load(self._by_message, _name(inbound.platform, inbound.chat_id,
                                                        inbound.reply_to))
            if quoted is not None:
                return PhotoChoice(photo=quoted)
        last = self._load(self._last, _name(inbound.platform, inbound.chat_id,
                                            inbound.user_id))
        return PhotoChoice(photo=last, explicit=False) if last is not None else None

    @staticmethod
    def _load(view: Any, name: str) -> Optional[PhotoRef]:
        text = view.get_expiring(name)
        if not text:
            return None
        try:
            return PhotoRef.from_json(text)
        except (ValueError, KeyError, TypeError):
            return None

    async def value(self, choice: PhotoChoice, client: Any) -> str:
        """The LoadImage value for ``choice``: download, check, upload (or the output ref)."""
        if choice.value or choice.photo is None:
            return choice.value
        photo = choice.photo
        if self._fetch is None:
            raise PhotoUnavailable("Photos cannot be fetched from this chat.")
        if photo.size > self._max_bytes:
            raise PhotoUnavailable(too_large_text(self._max_bytes))
        data = await self._fetch(photo, self._max_bytes)
        if len(data) > self._max_bytes:     # a fetcher that could not bound its stream
            raise PhotoUnavailable(too_large_text(self._max_bytes))
        info = check_image(data)
        name = upload_name(photo, info.ext)
        stored = await client.upload_image(data, name, subfolder=SUBFOLDER,
                                           content_type=info.mime)
        log.info("event=photo_uploaded platform=%s chat=%s message=%s bytes=%d format=%s "
                 "width=%d height=%d name=%s", photo.platform, photo.chat_id, photo.message_id,
                 len(data), info.ext, info.width, info.height, stored)
        return stored


async def bind_photo(inbound: Inbound, template: Optional[Template], inputs: dict,
                     photos: Optional[PhotoInputs], client: Any,
                     image_templates: Callable[[], Any]) -> Optional[Reply]:
    """Put the chosen photo into ``inputs`` (in place); a Reply when /run must stop."""
    if photos is None or template is None:
        return None
    name = photos.input_for(template)
    if name is not None and name in inputs:
        return None                       # the user typed image=... themselves
    choice = photos.choose(inbound)
    if name is None:
        if choice is not None and choice.explicit:
            takers = await image_templates()
            hint = (" Templates that take a photo: %s." % ", ".join(takers)) if takers else ""
            return Reply("Template %s takes no image input, so it cannot use a photo.%s" % (
                template.id, hint))
        return None
    if choice is None:
        if name in template.defaults:
            return None                   # the template has its own picture
        return Reply(needs_photo_text(template.id, photos))
    try:
        inputs[name] = await photos.value(choice, client)
    except PhotoUnavailable as exc:
        log.info("event=photo_refused platform=%s chat=%s reason=%s", inbound.platform,
                 inbound.chat_id, type(exc).__name__)
        return Reply(str(exc))
    return None


def _name(platform: str, chat_id: str, item: str) -> str:
    return "%s:%s:%s" % (platform, chat_id, item)


def needs_photo_text(template_id: str, photos: PhotoInputs) -> str:
    minutes = max(1, int(round(photos.window_sec / 60)))
    return ("Template %s needs a photo. Send a photo, then /run %s within %d min (or put "
            "/run %s in the photo's caption, or reply /run %s to the photo)."
            % (template_id, template_id, minutes, template_id, template_id))
