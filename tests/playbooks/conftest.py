"""Fixtures for the playbook tests (helpers live in playbook_helpers.py)."""

from __future__ import annotations

import json

import pytest
from playbook_helpers import FIXTURES


@pytest.fixture
def node_vars() -> dict:
    """The variables the program renders for an H100 (p5.48xlarge) node pool."""
    return json.loads((FIXTURES / "vars-p5.json").read_text())
