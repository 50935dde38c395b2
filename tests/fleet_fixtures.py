"""Shared test helpers: example stacks, their specs, offline runs, the installed gpufleet command.

Import as `from fleet_fixtures import ...` (a unique module name: several test folders have a conftest.py).
"""

from __future__ import annotations

import copy
import functools
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from core import yaml_reader
from core.names import NODEGROUP
from core.plan import plan_fleet
from core.spec_loader import AWS_REGION_KEY, namespaced_config, parse_spec
from gpufleet.offline import run_offline

ROOT = Path(__file__).resolve().parent.parent
STACKS = ["local", "dev", "staging", "prod"]


@functools.lru_cache(maxsize=None)
def _stack_document(name: str) -> dict:
    return yaml_reader.load((ROOT / "stacks" / f"Pulumi.{name}.yaml").read_bytes())


def stack_config(name: str) -> dict:
    """A deep copy of the `gpu-fleet:*` config of an example stack (namespace stripped): edit freely."""
    return copy.deepcopy(namespaced_config(_stack_document(name)["config"]))


def node_group_config(stack: str) -> dict:
    """The stack with every pool a managed node group, whatever the provisioner defaults pick (Karpenter pools:
    tests/components/aws/test_karpenter_resources.py)."""
    config = stack_config(stack)
    for pool in config["nodePools"]:
        pool["provisioner"] = NODEGROUP
    return config


def spec_of(config: dict):
    return parse_spec(config)


def plan_of(config: dict):
    """The fleet plan of a stripped `gpu-fleet:*` config."""
    return plan_fleet(parse_spec(config))


@functools.lru_cache(maxsize=None)
def stack_run(name: str):
    """The offline run of an example stack, computed once per test session (treat as read-only)."""
    return run_offline(parse_spec(stack_config(name)), name, _stack_document(name)["config"].get(AWS_REGION_KEY))


def write_stack_file(path: Path, config: dict, extra: dict | None = None) -> Path:
    """Writes a Pulumi stack config file from a stripped `gpu-fleet:*` config."""
    document = {"config": {**(extra or {}), **{f"gpu-fleet:{k}": v for k, v in config.items()}}}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def gpufleet_command() -> str:
    """The installed console script next to this interpreter (what users run)."""
    candidate = Path(sys.executable).parent / "gpufleet"
    found = str(candidate) if candidate.exists() else shutil.which("gpufleet")
    if not found:
        pytest.fail("the gpufleet console script is not installed (pip install -e .)")
    return found
