"""What the state holds, live: a stack whose kubeconfig is given inline (`cluster.kubeconfig` as contents, set
with `pulumi config set --secret`) deployed by the real engine, its state exported: no key material in it.

The provider's `kubeconfig` input is not marked secret by its schema (pulumi/pulumi-kubernetes
provider/pkg/gen/schema.go), and a program reading structured config gets the value decrypted, so the fleet
must mark it secret itself (components/kubernetes/cluster.py).

Uses the session fixture `local_engine` (tests/integration/conftest.py); deploys its own stack and destroys it.
"""

from __future__ import annotations

import base64

import pytest
import yaml
from fleet_fixtures import stack_config, write_stack_file
from local_engine import output_of

pytestmark = pytest.mark.integration

STACK = "inline-kubeconfig"
# What the engine writes in place of a secret value in an export without --show-secrets (Pulumi's secret sentinel).
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"


@pytest.fixture(scope="module")
def exported(local_engine):
    config = stack_config("local")
    del config["cluster"]["kubeconfig"]
    write_stack_file(local_engine.project / "stacks" / f"Pulumi.{STACK}.yaml", config)
    contents = local_engine.api.kubeconfig.read_text()
    for args in (("stack", "init", STACK),
                 ("config", "set", "--stack", STACK, "--secret", "--path", "gpu-fleet:cluster.kubeconfig", contents)):
        done = local_engine.pulumi(*args)
        assert done.returncode == 0, output_of(done)
    up = local_engine.pulumi("up", "--yes", "--skip-preview", "--stack", STACK, timeout=900)
    try:
        assert up.returncode == 0, f"pulumi up failed:\n{output_of(up)}"
        state = local_engine.pulumi("stack", "export", "--stack", STACK)
        assert state.returncode == 0, output_of(state)
        yield contents, state.stdout
    finally:
        down = local_engine.pulumi("destroy", "--yes", "--skip-preview", "--stack", STACK, timeout=900)
        assert down.returncode == 0, f"pulumi destroy failed:\n{output_of(down)}"


def test_an_inline_kubeconfig_leaves_no_key_material_in_the_state(exported):
    contents, state = exported
    users = yaml.safe_load(contents)["users"]
    key_data = [u["user"]["client-key-data"] for u in users]
    assert key_data, "the local kubeconfig carries a client key (scripts/local-cluster)"
    for data in key_data:
        pem = base64.b64decode(data).decode()
        assert data not in state
        for line in pem.splitlines()[1:-1]:  # the key's base64 body, line by line
            assert line not in state
    assert "PRIVATE KEY" not in state
    assert SECRET_SIGNATURE in state  # the provider's kubeconfig is there, as a secret
