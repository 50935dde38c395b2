"""The one boundary where raw stack config becomes a FleetSpec, or one clear SpecError.

Errors name the config path as users wrote it (`nodePools[1].instanceTypes[0]`) and the bad
value; callers print them once, without a traceback, and exit with status 2.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from pydantic import ValidationError

from .spec import UNION_TAGS, FleetSpec, cross_field_errors, shortened, shown
from .yaml_reader import MAX_BYTES
from .yaml_reader import load as load_yaml

NAMESPACE = "gpu-fleet"
AWS_REGION_KEY = "aws:region"  # the AWS provider's config: where the stack deploys
PROGRAM_CONFIG = "pulumi config"  # how errors name the config of a running program


class SpecError(Exception):
    """Invalid fleet config: a list of (path, message) problems."""

    def __init__(self, problems: Iterable[tuple[str, str]], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        prefix = f"{self.source}: " if self.source else ""
        return "\n".join(f"{prefix}{path}: {message}" if path else f"{prefix}{message}" for path, message in self.problems)


_CONFIG_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
# pydantic's marker for an error in a mapping's key (the message says which key).
_KEY_MARKER = "[key]"


def _path(loc: tuple) -> str:
    """The config path as users write it: nodePools[1].labels['acme.io/team']."""
    text = ""
    for part in loc:
        if part in UNION_TAGS or part == _KEY_MARKER:
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        elif _CONFIG_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{shown(part)}]"  # a label key or another user-chosen key: quoted and escaped
    return text


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required"
    message = error["msg"]
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    return f"{message[0].lower()}{message[1:]}, got {shortened(json.dumps(error.get('input'), default=str))}"


def parse_spec(config: Mapping[str, Any], source: str = "") -> FleetSpec:
    """Validates the `gpu-fleet:*` config (namespace already stripped) into a FleetSpec."""
    try:
        spec = FleetSpec.model_validate(dict(config))
    except ValidationError as exc:
        raise SpecError([(_path(e["loc"]), _message(e)) for e in exc.errors()], source) from None
    problems = cross_field_errors(spec)
    if problems:
        raise SpecError(problems, source)
    return spec


def namespaced_config(config: Mapping[str, Any], source: str = "") -> dict[str, Any]:
    """Picks `gpu-fleet:<key>` entries out of a whole Pulumi config mapping."""
    picked = {}
    for key, value in config.items():
        namespace, _, name = str(key).partition(":")
        if namespace == NAMESPACE:
            picked[name] = value
    if not picked:
        raise SpecError([("", f"no '{NAMESPACE}:*' keys in the stack config")], source)
    return picked


def read_stack_document(path: str | Path) -> Mapping[str, Any]:
    """The `config:` mapping of a Pulumi stack config file, read within the reader's bounds."""
    source = str(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SpecError([("", f"cannot read stack config: {exc.strerror}")], source) from None
    try:
        document = load_yaml(raw)
    except ValueError as exc:
        raise SpecError([("", str(exc))], source) from None
    if not isinstance(document, Mapping) or not isinstance(document.get("config"), Mapping):
        raise SpecError([("config", "a stack config file needs a 'config:' mapping")], source)
    return document["config"]


def load_stack_file(path: str | Path) -> FleetSpec:
    """Reads a Pulumi stack config file (stacks/Pulumi.<env>.yaml or any copy of one)."""
    return parse_spec(namespaced_config(read_stack_document(path), str(path)), str(path))


def stack_region(path: str | Path) -> Optional[str]:
    """The AWS region the stack deploys to (`aws:region`), where the file names one."""
    region = read_stack_document(path).get(AWS_REGION_KEY)
    return region if isinstance(region, str) else None


def region_errors(spec: FleetSpec, region: Optional[str]) -> list[tuple[str, str]]:
    """What a deployment needs of `aws:region` beyond the AWS provider: the EFA device plugin's image is in the
    region's EKS registry, also on an existing cluster, where nothing else of the stack needs a region."""
    efa = [p.name for p in spec.node_pools if p.efa]
    if efa and not region:
        return [(AWS_REGION_KEY, f"required: pools {', '.join(efa)} use EFA, whose device plugin image is in the "
                 "region's EKS registry (pulumi config set aws:region REGION)")]
    return []


def parse_program_config(raw: Mapping[str, Any]) -> FleetSpec:
    """The running Pulumi program's whole config (structured values arrive as JSON text), checked for what the
    deployment needs of the AWS provider's config."""
    config = {}
    for key, value in namespaced_config(raw, PROGRAM_CONFIG).items():
        try:
            config[key] = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError:
            config[key] = value
    spec = parse_spec(config, PROGRAM_CONFIG)
    region = raw.get(AWS_REGION_KEY)
    problems = region_errors(spec, region if isinstance(region, str) else None)
    if problems:
        raise SpecError(problems, PROGRAM_CONFIG)
    return spec
