"""Strict JSON for request bodies: finite numbers only, no duplicate keys, bounded nesting.

Python's ``json`` accepts ``NaN``, ``Infinity`` and ``1e999`` (which is not valid JSON) and keeps
the last of two equal keys. A NaN that slips past a field without bounds ends up in a stored spec
and breaks every later JSON response about that job; a duplicated key hides which value the
client meant. Both become a 400 that names the field.
"""

from __future__ import annotations

import json
import math
from typing import Any

from server.api.errors import InvalidRequest

MAX_DEPTH = 32


class _NonFinite:
    def __init__(self, text: str) -> None:
        self.text = text


def _float(text: str) -> float | _NonFinite:
    value = float(text)
    return value if math.isfinite(value) else _NonFinite(text)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise InvalidRequest(f"{key}: the key appears more than once in the JSON body", key, "duplicate_field")
        out[key] = value
    return out


def _check(value: Any, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InvalidRequest(f"{path or 'body'}: JSON nested deeper than {MAX_DEPTH} levels", path or None)
    if isinstance(value, _NonFinite):
        raise InvalidRequest(f"{path}: {value.text} is not accepted (numbers must be finite)", path or None,
                             "invalid_value")
    if isinstance(value, dict):
        for k, v in value.items():
            _check(v, f"{path}.{k}" if path else k, depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check(v, f"{path}[{i}]", depth + 1)


def loads(raw: bytes) -> Any:
    """Parse a request body; InvalidRequest (400) naming the field for anything not strict JSON."""
    try:
        data = json.loads(raw, object_pairs_hook=_pairs, parse_constant=_NonFinite, parse_float=_float)
    except InvalidRequest:
        raise
    except RecursionError:
        raise InvalidRequest(f"body is not accepted: JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limits
        raise InvalidRequest(f"body is not valid JSON: {exc}") from exc
    _check(data, "", 0)
    return data
