# Filtering of the final globals down to what JSON can carry, with the same result as codejail's
# `json_safe` (openedx/codejail, codejail/safe_exec.py), so that responses match the reference
# service value for value. runner.py calls `to_json_safe` once, after the user's code has run.
# The TypeScript side (function/result/) relies on this filter and only merges what it returns.

import json
from typing import Any

# Top-level values of other types are dropped without trying to serialise them. `bool` is kept
# because it is a subclass of `int`, and so are subclasses of `float` such as numpy.float64.
JSON_SAFE_TYPES = (type(None), int, float, bytes, str, list, tuple, dict)

# Global names that are never returned, whatever their value.
EXCLUDED_NAMES = ("__builtins__",)


def decode_bytes(value: Any) -> Any:
    """Decode every bytes object inside lists, tuples and dicts as UTF-8.

    Tuples become lists. Values of any other type are returned unchanged. Raises
    UnicodeDecodeError for bytes that are not UTF-8, and RecursionError for nesting that is too
    deep or circular.
    """
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, (list, tuple)):
        return [decode_bytes(item) for item in value]
    if isinstance(value, dict):
        decoded = {}
        for key, item in value.items():
            decoded[decode_bytes(key)] = decode_bytes(item)
        return decoded
    return value


def round_trip(value: Any) -> Any:
    """Return `value` as it reads back after json.dumps and json.loads with default options."""
    return json.loads(json.dumps(value))


def to_json_safe(namespace: dict[Any, Any]) -> dict[str, Any]:
    """Return the part of `namespace` that survives a JSON round trip.

    A name is kept only when its value has one of JSON_SAFE_TYPES and both the value and the
    name survive decode_bytes and round_trip. Any exception in that step drops the name, as in
    codejail. The final round trip turns non-string names into strings.
    """
    safe_globals: dict[Any, Any] = {}
    for name, value in namespace.items():
        if not isinstance(value, JSON_SAFE_TYPES):
            continue
        if name in EXCLUDED_NAMES:
            continue
        try:
            # Whatever json.dumps rejects (tuple keys in a nested dict, a set inside a list, a
            # circular reference) makes the round trip raise, so the name is dropped.
            value = round_trip(decode_bytes(value))
            name = round_trip(decode_bytes(name))
        except Exception:  # Any failure means "not JSON-safe", exactly as codejail treats it.
            continue
        safe_globals[name] = value
    return round_trip(safe_globals)
