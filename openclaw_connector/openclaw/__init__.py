"""OpenClaw client: the only code that speaks HTTP and websocket to ComfyUI/OpenClaw."""
