"""Naming the browser and system of a sign-in ("Chrome 120 on Windows 10") from its User-Agent header."""

from __future__ import annotations

from functools import lru_cache

from ua_parser import parse

UNKNOWN = "Unknown browser"


@lru_cache(maxsize=512)
def browser_and_system(user_agent: str) -> str:
    """What a person recognises in their sessions list; the raw header stays in the admin for IT."""
    if not user_agent.strip():
        return UNKNOWN
    result = parse(user_agent)
    agent, system = result.user_agent, result.os
    browser = " ".join(part for part in (agent.family, agent.major) if part) if agent else ""
    platform = " ".join(part for part in (system.family, system.major) if part) if system else ""
    if agent is None or agent.family == "Other":
        browser = UNKNOWN
    if system is None or system.family == "Other":
        return browser
    return f"{browser} on {platform}"
