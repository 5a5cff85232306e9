"""Commands: parsing, permissions and handlers. Imports nothing from channels/."""

from openclaw_connector.commands.router import Router

__all__ = ["Router"]
