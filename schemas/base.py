"""The one base of the criteria-file models: frozen, and an unknown field is an error, never ignored."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

ID_PATTERN = r"^[a-z][a-z0-9_]*$"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
