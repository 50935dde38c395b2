"""Reading resource properties safely: missing, None and unknown-during-preview all read as None.

The engine wraps properties in a proxy that raises UnknownValueError on a value it cannot know
yet; policies treat such a value as absent and skip the check that needs it, never crash.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any, Optional

import yaml
from pulumi_policy import proxy
from pulumi_policy.proxy import UnknownValueError

from core import names

# libyaml's safe loader where PyYAML was built with it (about 10x faster), else the Python one.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The engine's placeholders for unknown values, one per kind (UNKNOWN_STRING_VALUE, UNKNOWN_ARRAY_VALUE, ...).
UNKNOWN_SENTINELS = frozenset(
    getattr(proxy, name) for name in dir(proxy) if name.startswith("UNKNOWN_") and name.endswith("_VALUE")
)


def known(value: Any) -> Any:
    """The value, or None when it is an unknown sentinel."""
    if isinstance(value, str) and value in UNKNOWN_SENTINELS:
        return None
    return value


def get(obj: Any, *path: Any) -> Any:
    """obj[path[0]][path[1]]...; None when any step is missing, None or unknown."""
    current = obj
    try:
        for key in path:
            current = known(current)
            if current is None:
                return None
            if isinstance(key, int):
                if not isinstance(current, Sequence) or isinstance(current, str) or key >= len(current):
                    return None
            elif not isinstance(current, Mapping):
                return None
            elif key not in current:
                return None
            current = current[key]
        return known(current)
    except UnknownValueError:
        return None


def mapping(obj: Any, *path: Any) -> dict:
    """A mapping at `path` as a plain dict of known entries ({} when absent)."""
    value = get(obj, *path)
    if not isinstance(value, Mapping):
        return {}
    return {k: v for k in list(value.keys()) if (v := get(value, k)) is not None}


def items(obj: Any, *path: Any) -> list:
    """A list at `path` with unknown entries dropped ([] when absent)."""
    value = get(obj, *path)
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    return [v for i in range(len(value)) if (v := get(value, i)) is not None]


def labels(props: Any) -> dict:
    return mapping(props, "metadata", "labels")


def annotations(props: Any) -> dict:
    return mapping(props, "metadata", "annotations")


def split_list(value: Optional[str]) -> list[str]:
    """A comma-separated annotation as a list."""
    if not isinstance(value, str):
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


def as_int(value: Any) -> Optional[int]:
    try:
        return int(float(str(value)))
    except (TypeError, ValueError):
        return None


def truthy(value: Any) -> Optional[bool]:
    """AWS often sends booleans as strings ("true"); None when unset or unknown."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return None


def parse_document(text: Any) -> Any:
    """A JSON or YAML document, or None when it does not parse."""
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError:
        return None


def decode_user_data(value: Any) -> Optional[str]:
    """Launch template user data is base64; None when absent or not decodable."""
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", errors="replace")
    except (ValueError, TypeError):
        return value


# Keys that mark the one JSON line of Ansible vars gpu-fleet's user data carries (core.boot).
USER_DATA_VAR_MARKERS = (names.INSTALL_VAR, names.DRIVER_VERSION_VAR, names.TOOLKIT_VERSION_VAR)


def user_data_vars(props: Any) -> dict:
    """The Ansible vars a launch template's user data carries as one JSON line, if any."""
    text = decode_user_data(get(props, "userData"))
    for line in (text or "").splitlines():
        line = line.strip()
        if line.startswith("{") and any(var in line for var in USER_DATA_VAR_MARKERS):
            try:
                found = json.loads(line)
            except ValueError:
                continue
            if isinstance(found, dict):
                return found
    return {}


def has(obj: Any, *path: Any) -> bool:
    """Whether the last key of `path` is present (even if its value is unknown), without reading it."""
    parent = get(obj, *path[:-1]) if len(path) > 1 else known(obj)
    return isinstance(parent, Mapping) and any(k == path[-1] for k in iter(parent))


def pending(obj: Any, *path: Any) -> bool:
    """Present but not known (unknown during preview, or null): a check that needs it is skipped."""
    return has(obj, *path) and get(obj, *path) is None
