"""The one place credentials are taken out of text before it is shown (messages, manifest, logs).

`redact` shortens a location (`--omop`) for display; `scrub` takes every credential form out of any text,
wherever it appears in it: an error message from a JDBC driver or Hadoop quotes the URL it was given, so the
CLI, the log handler and the manifest pass everything they show through `scrub`, not only the fields known to
hold a location.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

# user:password@ (URLs) and user/password@ (Oracle thin URLs) after `//` or `:`
_USER_INFO = re.compile(r"(//|:)[^/@:;?]+[:/][^@/]*@")
_URL_USER = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@")
MASK = "***"
# Credential-bearing names in key=value forms (`;password=`, `?password=`, `&sslpassword=`, `token=`,
# `fs.s3a.secret.key=`, `AccountKey=`, `sig=` ...), and the user name beside them; case-insensitive.
_SECRET_NAME = (r"[\w.-]*(?:password|passwd|pwd|secret|token|credentials?)"
                r"|(?:[\w.-]*(?:secret|access|account|api|private|ssl|client|sas|encryption)[._-]?)?key"
                r"|sig|signature|authorization|auth|user|username|uid|user\.name")
_KEY_VALUE = re.compile(rf"(?i)(?<![\w.-])({_SECRET_NAME})(\s*=\s*)(\"[^\"]*\"|'[^']*'|\{{[^}}]*\}}|[^;&\s,)\]}}'\"]*)")
# the same names in JSON/YAML/Python-dict style: "password": "x"
_QUOTED_KEY = re.compile(rf"(?i)([\"']({_SECRET_NAME})[\"']\s*:\s*)(\"[^\"]*\"|'[^']*')")
# user-info in any URL inside free text: scheme://user:pass@host, scheme://token@host
_TEXT_URL_USER = re.compile(r"(?i)([a-z][a-z0-9+.-]*://)[^\s/@]+@")
# Oracle thin: jdbc:oracle:thin:user/password@host
_TEXT_ORACLE = re.compile(r"(?i)(:thin:)[^\s/@:]+/[^\s@]*@")


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


def scrub(text: str) -> str:
    """`text` with every credential form masked, wherever it appears (messages, log lines, manifest values)."""
    if not text:
        return text
    text = _TEXT_URL_USER.sub(rf"\1{MASK}@", text)
    text = _TEXT_ORACLE.sub(rf"\1{MASK}@", text)
    text = _QUOTED_KEY.sub(rf"\1'{MASK}'", text)
    return _KEY_VALUE.sub(rf"\1\2{MASK}", text)


def scrub_all(value: Any) -> Any:
    """`scrub` applied to every string of a JSON-like value (keys included), e.g. the manifest."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub_all(k): scrub_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_all(v) for v in value]
    return value
