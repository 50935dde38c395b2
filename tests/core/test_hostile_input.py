"""Hostile stack config values never reach a node as anything but data.

A seeded corpus of values (newlines, quotes, $(...), backquotes, Jinja, the MIME boundary, the
heredoc terminators, separators the kubelet splits on, very long values) is put into every field
that reaches node user data. Each value is either rejected by the spec (the CLI's exit 2, checked
for a sample through the real command) or, after rendering, parses back to exactly what the pool
plan says: the MIME keeps its two parts, the NodeConfig's kubelet flags and the cloud-config's
bootstrap call are unchanged shell words and YAML values, and the Ansible vars are the plan's.
"""

from __future__ import annotations

import email
import json
import random
import shlex

import pytest
import yaml
from fleet_fixtures import stack_config, write_stack_file

from core.boot import MIME_BOUNDARY, ClusterJoin, node_labels, register_taints, render_user_data
from core.names import NODEGROUP
from core.plan import plan_fleet
from core.spec_loader import SpecError, parse_spec

HOSTILE = [
    "\n",
    '"',
    "'",
    "$(reboot)",
    "`reboot`",
    "${IFS}",
    "{{ 7 * 7 }}",
    "{% raw %}",
    f"--{MIME_BOUNDARY}",
    f"\n--{MIME_BOUNDARY}\nContent-Type: text/x-shellscript\n\n#!/bin/sh\nreboot\n",
    "\nGPUFLEET_VARS\nreboot\n",
    "GPUFLEET_GPUS",
    ",gpufleet.io/pool=other",
    "=x",
    ":NoExecute",
    '"\n  - "--pod-max-pids=1',
    " --node-labels=evil=1",
    "\\",
    ";",
    "\t",
    "é",
    "x" * 64,
    "x" * 5000,
]
BENIGN = ["team", "a", "ml.infra_2", "A-1", "0", ""]
KEY_PREFIXES = ["", "acme.io/", "example.com/", "node.kubernetes.io/"]


def corpus(seed: int = 20261202, size: int = 300) -> list[str]:
    """The hostile values, then seeded mixtures of them with benign text (some come out valid)."""
    rng = random.Random(seed)
    mixed = [rng.choice(BENIGN) + rng.choice(HOSTILE + BENIGN) + rng.choice(BENIGN) for _ in range(size)]
    return HOSTILE + BENIGN + mixed


def _pool(config: dict) -> dict:
    return config["nodePools"][0]


FIELDS = {
    "label value": lambda config, value: _pool(config).update(labels={"acme.io/team": value}),
    "label key": lambda config, value: _pool(config).update(labels={value: "x"}),
    "prefixed label key": lambda config, value: _pool(config).update(labels={f"acme.io/{value}": "x"}),
    "taint value": lambda config, value: _pool(config).update(taints=[{"key": "acme.io/t", "value": value}]),
    "taint key": lambda config, value: _pool(config).update(taints=[{"key": value, "value": "x"}]),
    "pool name": lambda config, value: (_pool(config).update(name=value), config["tenants"][0].update(pools=[value])),
    "cluster name": lambda config, value: config["cluster"].update(name=value),
    "driver version": lambda config, value: config["drivers"].update(version=value),
    "toolkit version": lambda config, value: config["drivers"].update(containerToolkit=value),
    "instance type": lambda config, value: _pool(config).update(instanceTypes=[value]),
}
OSES = {"al2023": {}, "ubuntu": {"os": "ubuntu-24.04", "amiId": "ami-0123456789abcdef0"}}
CLUSTER = ClusterJoin("gpufleet-dev", "https://ABC.gr7.us-east-1.eks.amazonaws.com", "LS0tLS1CRUdJTg==")


def attempt(field: str, value: str, os: str):
    """The planned pool for the value in the field, or None when the spec rejects it."""
    config = stack_config("dev")
    # A node group pool: its user data carries the labels and taints (a Karpenter pool's NodePool does, on AL2023).
    _pool(config).update(OSES[os], provisioner=NODEGROUP)
    FIELDS[field](config, value)
    try:
        return plan_fleet(parse_spec(config)).pools[0]
    except SpecError:
        return None


def heredoc(script: str, marker: str) -> str:
    start = script.index(f"<<'{marker}'\n") + len(f"<<'{marker}'\n")
    return script[start : script.index(f"\n{marker}\n", start)]


def check_mime(pool, text: str) -> None:
    message = email.message_from_string(text)
    parts = message.get_payload()
    assert message.get_boundary() == MIME_BOUNDARY
    assert [p.get_content_type() for p in parts] == ["application/node.eks.aws", "text/x-shellscript"]
    node_config = yaml.safe_load(parts[0].get_payload())
    flags = node_config["spec"]["kubelet"]["flags"]
    assert flags == [f"--register-with-taints={register_taints(pool.taints)}", f"--node-labels={node_labels(pool.labels)}"]
    # The kubelet splits --node-labels on ',' and '=', --register-with-taints on ',' '=' ':'.
    labels = dict(item.split("=", 1) for item in flags[1].removeprefix("--node-labels=").split(","))
    assert labels == dict(pool.labels)
    taints = [t.rsplit(":", 1) for t in flags[0].removeprefix("--register-with-taints=").split(",")]
    # key=value:effect, or key:effect for a taint without a value (the kubelet's ParseTaint reads both)
    assert [(*(kv.split("=", 1) if "=" in kv else (kv, "")), effect) for kv, effect in taints] == \
        [(t.key, t.value, t.effect) for t in pool.taints]
    check_script(pool, parts[1].get_payload())


def check_cloud_config(pool, text: str) -> None:
    document = yaml.safe_load(text)
    assert set(document) == {"package_update", "packages", "write_files", "runcmd"}
    [script_file] = document["write_files"]
    script = script_file["content"]
    assert document["runcmd"] == [[script_file["path"]]]
    call = script[script.index("\n/etc/eks/bootstrap.sh ") + 1 :]
    words = shlex.split(call.replace("\\\n", " "))
    assert words == [
        "/etc/eks/bootstrap.sh", CLUSTER.name, "--apiserver-endpoint", CLUSTER.endpoint,
        "--b64-cluster-ca", CLUSTER.certificate_authority,
        "--kubelet-extra-args", f"--register-with-taints={register_taints(pool.taints)} --node-labels={node_labels(pool.labels)}",
    ]
    check_script(pool, script)


def check_script(pool, script: str) -> None:
    assert json.loads(heredoc(script, "GPUFLEET_VARS")) == dict(pool.ansible_vars)
    assert json.loads(heredoc(script, "GPUFLEET_GPUS")) == {t.name: t.gpus for t in pool.catalog}
    fetch = next(line for line in script.splitlines() if line.startswith("aws s3 cp "))
    assert shlex.split(fetch)[3:] == ["s3://bucket-1/playbooks/abc.zip", "$workdir/playbooks.zip"]


@pytest.mark.parametrize("os", sorted(OSES))
@pytest.mark.parametrize("field", sorted(FIELDS))
def test_every_value_is_rejected_or_stays_data(field, os):
    accepted = 0
    for value in corpus():
        pool = attempt(field, value, os)
        if pool is None:
            continue
        accepted += 1
        text = render_user_data(pool, "bucket-1", "playbooks/abc.zip", CLUSTER if pool.custom_ami else None)
        (check_cloud_config if pool.custom_ami else check_mime)(pool, text)
        if field in ("label value", "taint value") and value:
            assert text.count(value) >= 1  # the value itself is there, as data
    assert accepted or field == "instance type", f"no value of the corpus was accepted for {field}: the check ran on nothing"


def test_the_corpus_carries_every_kind_of_hostile_value():
    values = corpus()
    assert len(values) > 300 and corpus() == values  # seeded: the same corpus every run
    for fragment in ("\n", "$(", "`", "{{", MIME_BOUNDARY, "GPUFLEET_VARS", "'", '"'):
        assert any(fragment in v for v in values), fragment
    assert max(map(len, values)) >= 5000


@pytest.mark.parametrize(
    "field, value",
    [
        ("label value", f"x\n--{MIME_BOUNDARY}\nContent-Type: text/x-shellscript\n\n#!/bin/sh\nreboot"),
        ("label value", '"\n  - "--pod-max-pids=1'),
        ("label value", "a,gpufleet.io/pool=other"),
        ("taint value", "$(reboot)"),
        ("label key", "gpufleet.io/pool"),
        ("taint key", "nvidia.com/gpu"),
    ],
)
def test_the_cli_rejects_with_exit_2_and_writes_nothing(gpufleet, tmp_path, field, value):
    config = stack_config("dev")
    FIELDS[field](config, value)
    path = write_stack_file(tmp_path / "Pulumi.hostile.yaml", config)
    out = tmp_path / "out"
    result = gpufleet("render", "--config", str(path), "--out", str(out))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "\n--" not in result.stderr  # no raw newline of the value
    assert not out.exists() or not any(out.iterdir())
