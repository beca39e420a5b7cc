"""Request models that take JSON booleans for what they are: ``true`` is not the number 1.

Pydantic's default (lax) mode turns ``true`` into ``1`` for an ``int`` field, so ``{"num_frames":
true}`` would run a one-frame job. Strict mode would also refuse ``"81"``, which multipart forms
send for every number, so only booleans are refused, by field, where the field does not take one.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationInfo, field_validator


class NoBoolNumbers(BaseModel):
    @field_validator("*", mode="before")
    @classmethod
    def _booleans_are_not_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name is not None:
            annotation = str(cls.model_fields[info.field_name].annotation)
            if "bool" not in annotation:
                kind = "a number" if ("int" in annotation or "float" in annotation) else "the documented type"
                raise ValueError(f"expected {kind}, not a boolean")
        return value
