"""Per-run websocket events of the fake ComfyUI, routed by ``client_id`` as ComfyUI does.

interactive.md §6.1/§6.2: ``executing``, ``progress``, ``progress_state`` (and
``execution_*``) of a prompt go only to the socket whose ``clientId`` equals the
prompt's ``extra_data.client_id``; a socket opened with an id replaces an
earlier one with the same id; a socket that connects while the run is going
gets the current node again (``executing`` without ``prompt_id``).

    fake.runs.executing("3")                  # the running prompt, node 3
    fake.runs.progress(14, 30, node="3")
    fake.runs.refuse_clients = True           # /ws?clientId=<run id> → 403 (attach fails)
"""

from __future__ import annotations

import json
import struct
from typing import Any, Optional


class RunEvents:
    """The routing table (client id → socket) and the events a test emits."""

    def __init__(self, fake: Any) -> None:
        self.fake = fake
        self.sockets: dict[str, Any] = {}
        self.current_node: dict[str, str] = {}     # prompt id → node executing now
        self.refuse_clients = False                # refuse sockets that name a run's id
        self.attached: list[str] = []              # client ids that opened a socket
        self.delivered: list[dict] = []            # events that reached a socket

    # ------------------------------------------------------------------ sockets
    def refused(self, client_id: str) -> bool:
        """True if this upgrade must be refused (a run's id while refuse_clients)."""
        return self.refuse_clients and client_id in self._run_ids()

    def opened(self, ws: Any, client_id: str) -> None:
        if not client_id:
            return
        old = self.sockets.get(client_id)
        if old is not None and old is not ws:
            old.close()
        self.sockets[client_id] = ws
        self.attached.append(client_id)
        job = self.fake.model.running
        if job is not None and job.extra_data.get("client_id") == client_id \
                and job.prompt_id in self.current_node:
            # ComfyUI re-sends the running node to a socket that connects mid-run.
            ws.write_message(json.dumps({"type": "executing", "data": {
                "node": self.current_node[job.prompt_id]}}))

    def closed(self, ws: Any) -> None:
        for cid, known in list(self.sockets.items()):
            if known is ws:
                del self.sockets[cid]

    def attached_to(self, prompt_id: Optional[str] = None) -> bool:
        """A socket with the run's client id is open."""
        job = self._job(prompt_id)
        return job is not None and job.extra_data.get("client_id") in self.sockets

    # ------------------------------------------------------------------ events
    def emit(self, event: str, data: dict, prompt_id: Optional[str] = None) -> bool:
        """Send ``event`` of the (running) prompt to its client id's socket; False if
        no socket holds that id (the event is lost, as in ComfyUI)."""
        job = self._job(prompt_id)
        if job is None:
            return False
        message = {"type": event, "data": dict(data, prompt_id=job.prompt_id)}
        ws = self.sockets.get(job.extra_data.get("client_id", ""))
        if ws is None:
            return False
        ws.write_message(json.dumps(message))
        self.delivered.append(message)
        return True

    def executing(self, node: Optional[str], prompt_id: Optional[str] = None) -> bool:
        job = self._job(prompt_id)
        if job is not None and node is not None:
            self.current_node[job.prompt_id] = node
        return self.emit("executing", {"node": node, "display_node": node}, prompt_id)

    def progress(self, value: int, maximum: int, *, node: str,
                 prompt_id: Optional[str] = None) -> bool:
        return self.emit("progress", {"value": value, "max": maximum, "node": node},
                         prompt_id)

    def progress_state(self, nodes: dict, prompt_id: Optional[str] = None) -> bool:
        """``nodes``: node id → (value, max, state)."""
        job = self._job(prompt_id)
        pid = job.prompt_id if job else ""
        body = {n: {"value": v, "max": m, "state": st, "node_id": n, "prompt_id": pid,
                    "display_node_id": n, "parent_node_id": None, "real_node_id": n}
                for n, (v, m, st) in nodes.items()}
        return self.emit("progress_state", {"nodes": body}, prompt_id)

    def preview(self, image: bytes, *, fmt: int = 1, prompt_id: Optional[str] = None) -> bool:
        """A binary PREVIEW_IMAGE frame (type 1; ``fmt`` 1 JPEG, 2 PNG) to the run's
        socket (interactive.md §6.3)."""
        job = self._job(prompt_id)
        ws = self.sockets.get(job.extra_data.get("client_id", "")) if job else None
        if ws is None:
            return False
        ws.write_message(struct.pack(">II", 1, fmt) + image, binary=True)
        return True

    def _job(self, prompt_id: Optional[str]) -> Any:
        model = self.fake.model
        if prompt_id is None:
            return model.running
        return model.find(prompt_id)

    def _run_ids(self) -> set[str]:
        model = self.fake.model
        jobs = ([model.running] if model.running else []) + list(model.pending) + \
            list(model.finished.values())
        return {j.extra_data.get("client_id", "") for j in jobs}
