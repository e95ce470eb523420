"""The one place credentials are taken out of a location before it is shown (messages, manifest, logs)."""

from __future__ import annotations

import re
from pathlib import Path

# user:password@ (URLs) and user/password@ (Oracle thin URLs) after `//` or `:`
_USER_INFO = re.compile(r"(//|:)[^/@:;?]+[:/][^@/]*@")
_URL_USER = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@")


def redact(location: str) -> str:
    """`location` without credentials: a jdbc: URL loses its query and properties (`?...`, `;...`) and any
    user-info; another URL its user-info; a path under the home folder starts with `~`."""
    if location.startswith("jdbc:"):
        location = location.split("?", 1)[0].split(";", 1)[0]
        return _USER_INFO.sub(r"\1", location) if "@" in location else location
    if "://" in location and "@" in location:
        return _URL_USER.sub(r"\1", location)
    home = str(Path.home())
    return "~" + location[len(home):] if location.startswith(home + "/") else location
