"""The running program's config (core.spec_loader.parse_program_config): Pulumi hands every value as JSON text,
and the deployment needs aws:region where a pool uses EFA (the EFA device plugin's image is in the region's EKS
registry: EKS user guide, "View Amazon container image registries for Amazon EKS add-ons")."""

from __future__ import annotations

import json

import pytest
from fleet_fixtures import stack_config

from core.spec_loader import SpecError, parse_program_config


def program_config(stack: str, **extra) -> dict:
    """What the engine passes the program: `gpu-fleet:<key>` values as JSON text, plus other namespaces."""
    return {**{f"gpu-fleet:{k}": json.dumps(v) for k, v in stack_config(stack).items()}, **extra}


def test_the_engines_json_text_becomes_the_same_spec():
    spec = parse_program_config(program_config("prod", **{"aws:region": "us-east-1"}))
    assert [p.name for p in spec.node_pools] == [p["name"] for p in stack_config("prod")["nodePools"]]


def test_efa_pools_without_a_region_are_refused_by_name():
    with pytest.raises(SpecError) as error:
        parse_program_config(program_config("prod"))
    assert "aws:region: required: pools training-h100, training-a100 use EFA" in str(error.value)


def test_a_stack_without_efa_needs_no_region():
    assert parse_program_config(program_config("local")).cluster.mode == "existing"
