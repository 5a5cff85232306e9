"""Files over a platform's upload limit become signed media links (issue 19).

Telegram (50 MB) and Discord (``discord.max_file_mb``) take files as uploads;
a video can be larger. When the MediaStore can serve it
(``media.public_base_url`` set, within ``media.max_video_mb``) the file is
replaced by a line with its signed link; otherwise it stays in the reply and
the channel's own note ("over the upload limit; not sent") tells the user.
Nothing is dropped silently. Duck-typed on the MediaStore so a Telegram-only
daemon imports neither it nor Tornado's web module.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import tornado.ioloop

from openclaw_connector import log as logmod
from openclaw_connector.messages import Reply

log = logmod.get("media")


async def links_for_oversize(media: Any, reply: Reply, limit: int, platform: str) -> Reply:
    """``reply`` with each file over ``limit`` bytes replaced by a link line, if possible."""
    if media is None or not media.public or all(len(i.data) <= limit for i in reply.images):
        return reply
    keep, lines = [], []
    loop = tornado.ioloop.IOLoop.current()
    for image in reply.images:
        if len(image.data) <= limit:
            keep.append(image)
            continue
        ctype = image.content_type.split(";")[0].strip().lower()
        try:
            url = await loop.run_in_executor(
                None, lambda: media.url(image.data, ctype, max_bytes=media.max_video_bytes))
        except ValueError:          # too large or a type the MediaStore does not serve
            keep.append(image)
            continue
        log.info("event=media_linked platform=%s bytes=%d limit=%d", platform,
                 len(image.data), limit)
        lines.append("%s (%.1f MB, over the %s upload limit): %s" % (
            image.filename, len(image.data) / 1048576, platform, url))
    return dataclasses.replace(reply, text="\n".join(t for t in [reply.text, *lines] if t),
                               images=tuple(keep))
