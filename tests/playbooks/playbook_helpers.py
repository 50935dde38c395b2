"""Helpers for the playbook tests: run the real site playbook with ansible-runner.

Facts come from fixture files through Ansible's jsonfile fact cache (gathering
is explicit), the connection is local, and the configuration is written under a
throwaway root (``gpufleet_root``), so nothing on the test machine is touched.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import ansible_runner

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = REPO / "playbooks"
SITE = PLAYBOOKS / "site.yml"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
FACTS = FIXTURES / "facts"
NVIDIA_SMI = FIXTURES / "nvidia-smi"
VENV_BIN = Path(sys.executable).parent

SUPPORTED_OS = ["ubuntu-22.04", "ubuntu-24.04", "amazon-2023"]


@dataclass
class Run:
    """The outcome of one ansible-playbook run."""

    rc: int
    status: str
    stats: dict
    events: list[dict]
    stdout: str
    hosts: list[str] = field(default_factory=list)

    def count(self, key: str, host: str) -> int:
        return self.stats.get(key, {}).get(host, 0)

    def failures(self, host: str) -> list[tuple[str, str]]:
        """(task name, message) of each failed task on the host."""
        out = []
        for ev in self.events:
            data = ev.get("event_data", {})
            if ev.get("event") == "runner_on_failed" and data.get("host") == host:
                if not data.get("ignore_errors"):
                    out.append((data.get("task", ""), str(data.get("res", {}).get("msg", ""))))
        return out

    def results(self, host: str, task: str) -> list[dict]:
        return [
            ev["event_data"]["res"]
            for ev in self.events
            if ev.get("event") == "runner_on_ok"
            and ev["event_data"].get("host") == host
            and ev["event_data"].get("task") == task
        ]


def run_site(
    workdir: Path,
    hosts: dict[str, dict],
    *,
    facts: dict[str, str] | None = None,
    extravars: dict | None = None,
    check: bool = False,
    tags: str | None = None,
    skip_tags: str | None = None,
    playbook: Path = SITE,
) -> Run:
    """Run ``playbook`` against local hosts; ``facts`` maps host -> fixture OS name."""
    workdir.mkdir(parents=True, exist_ok=True)
    # ansible-runner sets up Ansible's jsonfile fact cache; an absolute
    # fact_cache path makes it use this directory, seeded with the fixtures.
    cache = workdir / "facts-cache"
    cache.mkdir(exist_ok=True)
    (workdir / "runner").mkdir(exist_ok=True)
    for host, os_name in (facts or {}).items():
        # ansible-core 2.19 keys cache entries "s1_<host>" and wraps the facts
        # in a serialized payload (the layout `ansible -m setup` writes).
        payload = json.dumps(json.loads((FACTS / f"{os_name}.json").read_text()))
        (cache / f"facts_s1_{host}").write_text(json.dumps({"__payload__": payload}))
    inventory = {
        "all": {
            "hosts": {
                name: {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": sys.executable,
                    **hostvars,
                }
                for name, hostvars in hosts.items()
            }
        }
    }
    env = {
        "ANSIBLE_CONFIG": str(PLAYBOOKS / "ansible.cfg"),
        "ANSIBLE_GATHERING": "explicit",
        "ANSIBLE_CACHE_PLUGIN_TIMEOUT": "0",
        "ANSIBLE_CACHE_PLUGIN_PREFIX": "facts_",
        "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp"),
        "ANSIBLE_HOME": str(workdir / "ansible-home"),
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    cmdline = "--check --diff" if check else None
    runner = ansible_runner.run(
        private_data_dir=str(workdir / "runner"),
        project_dir=str(playbook.parent),
        playbook=str(playbook),
        inventory=inventory,
        # A root of its own unless the test names one: a role never writes to this machine's /etc.
        extravars={"gpufleet_become": False, "gpufleet_root": str(workdir / "root"), **(extravars or {})},
        envvars=env,
        cmdline=cmdline,
        tags=tags,
        skip_tags=skip_tags,
        fact_cache=str(cache),
        quiet=True,
    )
    stdout = runner.stdout.read()
    return Run(
        rc=runner.rc,
        status=runner.status,
        stats=runner.stats or {},
        events=list(runner.events),
        stdout=stdout,
        hosts=list(hosts),
    )


def smi(name: str) -> str:
    """A gpu_verify_nvidia_smi_command that prints a captured nvidia-smi output."""
    return f"cat {NVIDIA_SMI / name}"


def containerd_dump(name: str) -> str:
    """A gpu_verify_containerd_config_command that prints a captured `containerd config dump`."""
    return f"cat {FIXTURES / 'containerd' / name}"


# A node whose containerd loads the NVIDIA runtime and whose toolkit put the runtime's binary in place.
NODE_ROOT = FIXTURES / "node-root"
RUNTIME_IN_USE = {
    "gpu_verify_containerd_config_command": containerd_dump("dump-nvidia.toml"),
    "gpu_verify_root": str(NODE_ROOT),
}
