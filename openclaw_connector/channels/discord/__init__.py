"""Discord channel: the gateway websocket, REST sends, messages and slash commands."""
