"""Channel-agnostic message shapes: channels turn their updates into ``Inbound`` and render ``Outbound``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Channel = Literal["web", "telegram"]
InboundKind = Literal["text", "button", "location", "voice", "photo", "document", "sticker", "other"]


@dataclass(frozen=True, slots=True)
class Button:
    title: str
    payload: str  # what comes back as the next message when pressed; at most 64 bytes (Telegram)


@dataclass(frozen=True, slots=True)
class Outbound:
    """One bot (or facilitator) message. ``custom`` carries the structured content of the web API."""

    text: str
    buttons: tuple[Button, ...] = ()
    custom: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Inbound:
    """One citizen message or button press, as any channel hands it to the dialogue engine."""

    channel: Channel
    sender: str  # the channel's conversation key: web session id, Telegram chat id
    kind: InboundKind = "text"
    text: str = ""
    payload: str | None = None  # a button's payload, when kind == "button"
    message_id: str | None = None  # the channel's id, for exactly-once processing
    latitude: float | None = None
    longitude: float | None = None
    first_name: str | None = None  # Telegram user's first name, never logged
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message of the log as channels and the console read it back."""

    id: int
    conversation_id: int
    direction: str  # "in" | "out"
    author: str  # "citizen" | "bot" | "facilitator" | "system"
    text: str
    author_name: str | None = None
    kind: str = "text"
    buttons: tuple[Button, ...] = ()
    custom: dict[str, Any] | None = None
    created_at: str = ""  # ISO 8601, UTC
