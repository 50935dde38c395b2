"""The stack config reference (docs/config-reference.md), generated from the spec models.

    python -m gpufleet.config_reference > docs/config-reference.md

A test regenerates it and fails when the committed file is stale.
"""

from __future__ import annotations

import typing

from pydantic import BaseModel

from core.spec import FleetSpec


def _models(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found = []
    for arg in typing.get_args(annotation):
        found += _models(arg)
    return found


def _type_text(annotation) -> str:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is typing.Union:
        return " \\| ".join(_type_text(a) for a in typing.get_args(annotation))
    literal = typing.get_origin(annotation) is typing.Literal
    if literal:
        return " \\| ".join(str(a) for a in typing.get_args(annotation))
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("typing.", "").replace("Annotated[", "").split(",")[0]


def _default_text(field) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default
    if isinstance(value, BaseModel):
        return "see below"
    return "-" if value is None else f"`{value}`"


def _without_none(annotation):
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if typing.get_origin(annotation) is typing.Union and len(args) == 1 else annotation


def _rows(model: type[BaseModel], prefix: str, out: list[str], nested: list) -> None:
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        annotation = field.annotation
        for sub in _models(annotation):
            nested.append((key, sub))
        plain = _without_none(annotation)
        if _models(annotation):
            kind = "list of objects" if typing.get_origin(plain) is list else "object"
        else:
            kind = _type_text(plain)
        out.append(f"| `{key}` | {kind} | {_default_text(field)} | {field.description or ''} |")


def reference() -> str:
    lines = ["# Stack config reference", "", "Generated from `core/spec.py` by `python -m gpufleet.config_reference`; do not edit by hand.", "Keys are camelCase; unknown keys are errors.", ""]
    for field in FleetSpec.model_fields.values():
        is_list = typing.get_origin(field.annotation) is list
        title = f"gpu-fleet:{field.alias}" + (" (a list)" if is_list else "")
        lines += [f"## {title}", "", "| key | type | default | meaning |", "|---|---|---|---|"]
        pending = [("", m) for m in _models(field.annotation)]
        while pending:
            prefix, model = pending.pop(0)
            nested: list = []
            _rows(model, f"{prefix}." if prefix else "", lines, nested)
            pending += nested
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(reference(), end="")
