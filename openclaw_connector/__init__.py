"""openclaw-connector: drive a ComfyUI + OpenClaw machine from chat platforms."""

__version__ = "0.1.0"
