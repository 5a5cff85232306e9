"""Telegram channel: long polling, the Bot API wire format and sending."""
