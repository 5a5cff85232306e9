"""Follow-up buttons under a result: ``templates.<id>.followups`` (issue 17).

Each configured ``{Label: target}`` becomes one button whose command is
``/run <target> <input>="<subfolder>/<name> [output]"``: the job's first still
image as LoadImage names an output file (``[temp]`` for a temp one;
interactive.md §6.6), so the target runs on it with no download and no upload
(a typed image input wins over any chat photo, ``commands.photos``). A job
with only videos or animations gets no follow-ups. The input is the target's
``templates.<target>.image_input``, else the first of
:data:`~commands.photos.IMAGE_INPUTS` it declares; the declared inputs come
from the template catalogue the router reads too (one instance, refreshed at
most once a minute). A button that cannot be built (target unknown, no image
input, catalogue unreachable) is left out with one ``event=followup_skipped``
line; the result and its other buttons still go.
"""

from __future__ import annotations

from typing import Optional

from openclaw_connector import log as logmod
from openclaw_connector.commands.photos import image_input
from openclaw_connector.commands.templates import TemplateCatalogue
from openclaw_connector.config import Config
from openclaw_connector.media_out import IMAGE, classify
from openclaw_connector.messages import Action
from openclaw_connector.openclaw.types import ImageRef, JobOutcome, OpenClawError, Template

log = logmod.get("jobs")


def output_reference(ref: ImageRef) -> str:
    """LoadImage's value for an output file: ``"<subfolder>/<name> [output]"`` (§6.6)."""
    path = "%s/%s" % (ref.subfolder, ref.filename) if ref.subfolder else ref.filename
    return "%s [%s]" % (path, ref.type or "output")


def first_still(outcome: JobOutcome) -> Optional[ImageRef]:
    """The job's first still image (never a video or an animation), if it made one."""
    return next((ref for ref in outcome.images
                 if classify(ref.filename, ref.animated) == IMAGE), None)


class FollowUps:
    """Builds a result's follow-up actions from the config and the catalogue."""

    def __init__(self, cfg: Config, catalogue: Optional[TemplateCatalogue]) -> None:
        self._cfg = cfg
        self._catalogue = catalogue

    async def actions(self, template: str, outcome: JobOutcome) -> tuple[Action, ...]:
        """One action per buildable follow-up of ``template``, in config order."""
        configured = self._cfg.followups(template)
        image = first_still(outcome) if outcome.state == "success" else None
        if not configured or image is None:
            return ()
        value = output_reference(image)
        known = await self._known(template, configured)
        actions = []
        for label, target in configured.items():
            command, reason = self._command(target, known, value)
            if command:
                actions.append(Action(label, command))
                continue
            (log.info if reason == "catalogue_unreachable" else log.warning)(
                "event=followup_skipped template=%s target=%s reason=%s", template, target,
                reason)
        return tuple(actions)

    def _command(self, target: str, known: Optional[dict[str, Template]],
                 value: str) -> tuple[str, str]:
        """(the button's command, "") or ("", why it cannot be built)."""
        if known is None:
            return "", "catalogue_unreachable"
        found = known.get(target)
        if found is None:
            return "", "unknown_target"
        name = image_input(found, self._cfg.image_input(target))
        if name is None:
            return "", "no_image_input"
        if '"' in value:
            return "", "unquotable_file_name"    # no command line can carry it
        return '/run %s %s="%s"' % (target, name, value), ""

    async def _known(self, template: str, configured: dict) -> Optional[dict[str, Template]]:
        """The catalogue by id (one read for every target); None when it cannot be read."""
        if self._catalogue is None:
            return None
        try:
            return {t.id: t for t in await self._catalogue.all()}
        except OpenClawError as exc:
            log.debug("event=followup_catalogue_failed template=%s targets=%d error=%s",
                      template, len(configured), logmod.one_line_error(exc))
            return None
