"""The one base of the criteria-file models: frozen, and an unknown field is an error, never ignored."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

ID_PATTERN = r"^[a-z][a-z0-9_]*$"  # pydantic's (Rust) `$` is the end of the text
ID_RE = re.compile(r"[a-z][a-z0-9_]*")  # used with fullmatch: Python's `$` also matches before a final \n


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
