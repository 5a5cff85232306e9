"""Videos and animations for the platforms that fetch media by URL: LINE and WhatsApp
(interactive.md §4; issue 19).

Stills go through ``webhook.image_links``; ``webhook.url_media`` does both
for a reply. A video or animation is stored in the MediaStore (``media.max_video_mb``) and sent as the platform's
native video message when it is an mp4 within the platform's limit (LINE
200 MB, WhatsApp 16 MB), else as a signed link in the text. Without
``media.public_base_url`` nothing can be fetched, so the user gets a clear
note instead: nothing is ever dropped silently. No transcoding: a GIF or an
animated WEBP is a link on both platforms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import tornado.ioloop

from openclaw_connector import log as logmod
from openclaw_connector.media import MediaTooLarge, MediaUnsupported
from openclaw_connector.media_out import VIDEO, is_mp4
from openclaw_connector.messages import Image

log = logmod.get("media")

NO_PUBLIC_URL_NOTE = ("%s is ready but cannot be delivered here: set media.public_base_url "
                      "(OPENCLAW_CONNECTOR_PUBLIC_BASE_URL) so the platform can fetch it.")
UNSUPPORTED_NOTE = "%s could not be delivered (%s cannot be sent here)."
TOO_LARGE_NOTE = "%s is too large to deliver (%.1f MB; the limit here is %.1f MB)."


@dataclass
class MovingMedia:
    """What a reply's videos and animations become: native video URLs, links, notes."""

    videos: list[str] = field(default_factory=list)
    video_of: list[int] = field(default_factory=list)  # per video: its index in the input
    links: list[str] = field(default_factory=list)     # "Animation x.webp: https://..."
    notes: list[str] = field(default_factory=list)


def image_ids(shows: Sequence[int], ids: Sequence[str], count: int) -> tuple[str, ...]:
    """``Sent.image_ids`` from each sent message's id and the reply image it showed
    (``shows``: an index into the reply's images, -1 for none); () when no id matched."""
    out = [""] * count
    for index, message_id in zip(shows, ids):
        if index >= 0 and message_id:
            out[index] = message_id
    return tuple(out) if any(out) else ()


async def moving_media(media: Any, images: Sequence[Image], *,
                       native_max_bytes: int) -> MovingMedia:
    """Store each non-still file; mp4 within ``native_max_bytes`` is a native video."""
    out = MovingMedia()
    for index, image in enumerate(images):
        label = "%s %s" % ("Video" if image.kind == VIDEO else "Animation", image.filename)
        if media is None or not media.public:
            out.notes.append(NO_PUBLIC_URL_NOTE % label)
            continue
        try:
            url = await _store(media, image)
        except MediaTooLarge:
            out.notes.append(TOO_LARGE_NOTE % (label, len(image.data) / 1048576,
                                               media.max_video_bytes / 1048576))
            continue
        except MediaUnsupported:
            out.notes.append(UNSUPPORTED_NOTE % (label, image.content_type))
            continue
        if image.kind == VIDEO and is_mp4(image.filename) and \
                len(image.data) <= native_max_bytes:
            out.videos.append(url)
            out.video_of.append(index)
        else:
            out.links.append("%s: %s" % (label, url))
    return out


async def stored_url(media: Any, data: bytes, content_type: str) -> Optional[str]:
    """A public URL for a small helper file (a video's preview image), or None."""
    if media is None or not media.public:
        return None
    return await tornado.ioloop.IOLoop.current().run_in_executor(
        None, media.url, data, content_type)


async def _store(media: Any, image: Image) -> str:
    ctype = image.content_type.split(";")[0].strip().lower()
    if ctype not in ("video/mp4", "video/webm", "image/gif", "image/webp", "image/png"):
        log.warning("event=media_not_sent reason=unsupported_type type=%s", ctype)
        raise MediaUnsupported(ctype)

    def put() -> str:
        return media.url(image.data, ctype, max_bytes=media.max_video_bytes)
    return await tornado.ioloop.IOLoop.current().run_in_executor(None, put)
