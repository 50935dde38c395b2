"""Reading a stack config file that may be hostile: bounded, strict, one clear error.

A stack config is what a pull request changes, so its YAML is read with limits PyYAML does not
set by itself: the file's size, UTF-8 only (a UTF-16 or binary file is named as such), no
duplicate keys (PyYAML keeps the last one silently), and aliases that neither refer to
themselves nor expand past a bound (an alias bomb is a few hundred bytes that expand into
billions of nodes). Problems come back as ValueError with the line, for the loader to name.
"""

from __future__ import annotations

import codecs
from datetime import datetime, timezone
from typing import Any

import yaml

MAX_BYTES = 1 << 20  # a stack config of a few hundred pools and tenants is well under 100 KiB
MAX_NODES = 100_000  # scalars, sequences and mappings after alias expansion
MAX_DEPTH = 64

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)


def decode(raw: bytes) -> str:
    """The file as UTF-8 text (a UTF-8 byte order mark is allowed), or ValueError saying what it is."""
    if len(raw) > MAX_BYTES:
        raise ValueError(f"the file has {len(raw)} bytes; a stack config has at most {MAX_BYTES}")
    if raw.startswith(_UTF16_BOMS):
        raise ValueError("the file is UTF-16 or UTF-32 text: save it as UTF-8")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"the file is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start})") from None
    if "\x00" in text:
        raise ValueError("the file holds NUL characters: it is binary, not YAML")
    return text


class _StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing duplicate keys."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise ValueError(f"line {line}: duplicate key {key!r} (first on line {seen[key]})")
                seen[key] = line
            except TypeError:
                raise ValueError(f"line {line}: a mapping key must be a scalar") from None
        return super().construct_mapping(node, deep=deep)


def _utc_timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> datetime:
    """An unquoted YAML time, as the Pulumi engine reads it: a point in time, in UTC where it names no zone (YAML's
    timestamp type; gopkg.in/yaml.v3 resolves a date alone to midnight UTC)."""
    value = loader.construct_yaml_timestamp(node)
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _utc_timestamp)


def _check_graph(root: yaml.Node) -> None:
    """No node contains itself; the tree the aliases expand into stays within MAX_NODES and MAX_DEPTH."""
    sizes: dict[int, int] = {}  # id(node) -> nodes it expands into, once known

    def size(node: yaml.Node, path: set[int], depth: int) -> int:
        if depth > MAX_DEPTH:
            raise ValueError(f"line {node.start_mark.line + 1}: nested deeper than {MAX_DEPTH} levels")
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in path:
            raise ValueError(f"line {node.start_mark.line + 1}: an alias refers to a node that contains it")
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        path.add(id(node))
        total = 1 + sum(size(child, path, depth + 1) for child in children)
        path.discard(id(node))
        if total > MAX_NODES:
            raise ValueError(f"line {node.start_mark.line + 1}: aliases expand past {MAX_NODES} nodes")
        sizes[id(node)] = total
        return total

    size(root, set(), 0)


def load(raw: bytes) -> Any:
    """The one YAML document of a stack config file, or ValueError (with the line where it can)."""
    text = decode(raw)
    try:
        loader = _StrictLoader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                return None
            _check_graph(root)
            return loader.construct_document(root)
        finally:
            loader.dispose()
    except RecursionError:
        raise ValueError(f"not valid YAML for a stack config: nested deeper than {MAX_DEPTH} levels") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        # A reader error (a control character) has no problem, and its text spans lines: one line, always.
        problem = " ".join((getattr(error, "problem", None) or str(error)).split())
        raise ValueError(f"not valid YAML: {where}{problem}") from None
