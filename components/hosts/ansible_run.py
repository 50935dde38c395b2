"""AnsibleRun: apply the site playbook to existing GPU machines over SSH.

A Pulumi dynamic resource built on ansible-runner. Its inputs are an inventory
of static hosts, the extra vars the program renders per node pool, the path of
the playbook and a content hash of the playbooks directory
(``bundle_hash``), so editing a role re-runs the playbook on the next
``pulumi up``. A change never replaces the resource: it runs the playbook again
(the roles are idempotent). A failed run raises with the play recap, which is
what Pulumi shows.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi.dynamic

# Inputs whose change means the playbook must run again.
TRIGGERS = ("inventory", "extra_vars", "playbook", "bundle_hash")
def normalize_inventory(inventory: Mapping[str, Any] | Sequence[Any]) -> dict[str, Any]:
    """Turn the ``inventory`` input into an Ansible YAML/JSON inventory dict.

    Accepts an inventory dict as Ansible reads it (``{"all": {"hosts": ...}}``),
    or a list of hosts: names (``"10.0.1.17"``) or ``{"name": ..., **hostvars}``.
    """
    if isinstance(inventory, Mapping):
        if not inventory:
            raise ValueError("inventory: no hosts")
        return json.loads(json.dumps(dict(inventory)))
    hosts: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(inventory):
        if isinstance(entry, str):
            hosts[entry] = {}
        elif isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            hosts[entry["name"]] = {k: v for k, v in entry.items() if k != "name"}
        else:
            raise ValueError(f"inventory[{i}]: expected a host name or a mapping with 'name', got {entry!r}")
    if not hosts:
        raise ValueError("inventory: no hosts")
    return {"all": {"hosts": hosts}}


def recap_from_stats(stats: Mapping[str, Mapping[str, int]] | None, hosts: Sequence[str] = ()) -> dict[str, dict[str, int]]:
    """Per-host play recap from ansible-runner's stats."""
    stats = stats or {}
    keys = {"ok": "ok", "changed": "changed", "failed": "failures", "unreachable": "dark", "skipped": "skipped"}
    names = set(hosts)
    for counts in stats.values():
        names.update(counts or {})
    return {
        host: {out: int((stats.get(src) or {}).get(host, 0)) for out, src in keys.items()}
        for host in sorted(names)
    }


def _format_recap(recap: Mapping[str, Mapping[str, int]]) -> str:
    return "\n".join(
        f"  {host}: " + " ".join(f"{k}={v}" for k, v in counts.items()) for host, counts in recap.items()
    )


class AnsibleRunError(Exception):
    """The playbook failed or a host was unreachable."""


def run_playbook(props: Mapping[str, Any]) -> dict[str, Any]:
    """Run the playbook described by the resource inputs; return the outputs.

    Raises AnsibleRunError, naming the failed tasks and the recap, when the run fails.
    """
    import ansible_runner  # imported here: the provider is serialized by Pulumi

    playbook = Path(props["playbook"]).resolve()
    if not playbook.is_file():
        raise AnsibleRunError(f"playbook: {str(playbook)!r} does not exist")
    inventory = normalize_inventory(props["inventory"])
    bin_dir = Path(sys.executable).parent
    env = {"ANSIBLE_NOCOLOR": "1", "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    config = playbook.parent / "ansible.cfg"
    if config.is_file():
        env["ANSIBLE_CONFIG"] = str(config)
    work = tempfile.mkdtemp(prefix="gpufleet-ansible-")
    try:
        kwargs: dict[str, Any] = {}
        if props.get("ssh_private_key"):
            kwargs["ssh_key"] = props["ssh_private_key"]
        runner = ansible_runner.run(
            private_data_dir=work,
            project_dir=str(playbook.parent),
            playbook=str(playbook),
            inventory=inventory,
            extravars=dict(props.get("extra_vars") or {}),
            envvars=env,
            quiet=True,
            **kwargs,
        )
        hosts = list(((inventory.get("all") or {}).get("hosts") or {}))
        recap = recap_from_stats(runner.stats, hosts)
        if runner.rc != 0 or runner.status != "successful":
            failures = []
            for event in runner.events:
                data = event.get("event_data") or {}
                if event.get("event") in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
                    msg = (data.get("res") or {}).get("msg", "")
                    failures.append(f"  {data.get('host')}: {data.get('task')}: {msg}")
            raise AnsibleRunError(
                f"ansible-playbook {playbook.name} failed (rc={runner.rc}, status={runner.status})\n"
                + ("failed tasks:\n" + "\n".join(failures) + "\n" if failures else "")
                + "recap:\n" + _format_recap(recap)
            )
        return {"recap": recap, "rc": int(runner.rc)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _inputs(props: Mapping[str, Any]) -> dict[str, Any]:
    return {k: props.get(k) for k in TRIGGERS}


class AnsibleRunProvider(pulumi.dynamic.ResourceProvider):
    """Dynamic provider: create and update run the playbook; delete leaves the hosts as they are."""

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        outs = run_playbook(props)
        digest = hashlib.sha256(json.dumps(_inputs(props)["inventory"], sort_keys=True).encode()).hexdigest()
        return pulumi.dynamic.CreateResult(id_=f"ansible-run-{digest[:16]}", outs={**_public(props), **outs})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        changed = [k for k in TRIGGERS if _canonical(olds.get(k)) != _canonical(news.get(k))]
        return pulumi.dynamic.DiffResult(
            changes=bool(changed),
            replaces=[],
            stables=["recap", "rc"] if not changed else [],
            delete_before_replace=False,
        )

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        return pulumi.dynamic.UpdateResult(outs={**_public(news), **run_playbook(news)})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to undo: removing the resource does not uninstall drivers."""


def _public(props: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs kept in the state: everything but the SSH key."""
    return {k: v for k, v in props.items() if k != "ssh_private_key"}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@dataclass(frozen=True)
class AnsibleRunArgs:
    inventory: Any
    """An Ansible inventory dict, or a list of hosts (names or {"name": ..., **hostvars}), e.g. with
    ansible_user and ansible_become: true."""
    playbook: str
    """Path of the playbook, normally playbooks/site.yml."""
    bundle_hash: pulumi.Input[str]
    """core.bundle.bundle_hash of the playbooks directory; a change re-runs the playbook."""
    extra_vars: Mapping[str, Any] = field(default_factory=dict)
    """The node-pool variables (a PoolPlan's ansible_vars; see playbooks/README.md)."""
    ssh_private_key: Optional[pulumi.Input[str]] = None
    """Private key (PEM text) for the SSH connection; kept secret, never in the state."""


class AnsibleRun(pulumi.dynamic.Resource):
    """Runs the site playbook on static GPU hosts and records the play recap."""

    recap: pulumi.Output[dict]
    rc: pulumi.Output[int]

    def __init__(self, name: str, args: AnsibleRunArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {
            "inventory": args.inventory,
            "extra_vars": dict(args.extra_vars),
            "playbook": args.playbook,
            "bundle_hash": args.bundle_hash,
            "ssh_private_key": pulumi.Output.secret(args.ssh_private_key) if args.ssh_private_key else None,
            "recap": None,
            "rc": None,
        }
        super().__init__(AnsibleRunProvider(), name, props, opts)
