"""The `current_time` tool: the date and time now, in the user's time zone or one the model names.

The user's zone comes from the turn's `ToolContext` (the browser's), UTC when unknown; an IANA name the
model passes ("Asia/Shanghai", "Europe/Berlin") wins. An unknown name is a `ToolError` the model can
correct. The clock itself is `context.now`, so tests can fix it.
"""

from __future__ import annotations

from datetime import timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qwenchat.tools.registry import Tool, ToolContext, ToolError, register

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _zone(name: str):
    if name.upper() in ("UTC", "Z", "GMT"):
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ToolError(f"unknown time zone {name[:80]!r}: use an IANA name such as 'Asia/Shanghai'") from None


def current_time(arguments: dict[str, Any], context: ToolContext) -> str:
    wanted = arguments.get("timezone")
    if wanted is not None and not isinstance(wanted, str):
        raise ToolError('"timezone" must be a string such as "Asia/Shanghai"')
    name = (wanted or "").strip() or context.timezone or "UTC"
    zone = _zone(name)
    now = context.now().astimezone(zone)
    offset = now.strftime("%z")
    return (f"{now.strftime('%Y-%m-%d %H:%M:%S')} {WEEKDAYS[now.weekday()]}, time zone {name} "
            f"(UTC{offset[:3]}:{offset[3:]})")


TOOL = register(Tool(
    "current_time",
    "The current date, time and weekday. Without an argument: in the user's own time zone.",
    {"type": "object",
     "properties": {"timezone": {"type": "string",
                                 "description": "An IANA time zone such as \"Asia/Shanghai\"; leave it out for "
                                                "the user's own"}},
     "required": []},
    current_time, label_id="tools.name.current_time"))
