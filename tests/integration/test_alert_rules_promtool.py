"""The alert rules evaluated the way Prometheus evaluates them: `promtool test rules` (Prometheus' own rule
engine) on input series shaped like dcgm-exporter's output.

Series labels follow dcgm-exporter: `gpu`, `UUID`, `Hostname` on every field, `GPU_I_ID` on MIG instances,
`namespace`/`pod` on allocated GPUs (DCGM_EXPORTER_KUBERNETES), `xid` on DCGM_EXP_XID_ERRORS_COUNT
(NVIDIA/dcgm-exporter internal/pkg/collector/xid_collector.go). What the series stand for is upstream's:
DCGM_FI_DEV_GPU_UTIL reads 0 on MIG instances while the engine works (dcgm-exporter issues 216 and 430), the
XID count rises for one window after an XID and falls back to 0 (pkg/cmd/app.go, xid-count-window-size).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml
from fleet_fixtures import spec_of, stack_config

from components.kubernetes.monitoring import XID_WINDOW_MINUTES, alert_rule_groups
from core.names import DCGM_EXPORTER_APP
from core.facts import load_facts

pytestmark = pytest.mark.integration

NODE = {"Hostname": "gpu-node-1", "gpu": "0", "UUID": "GPU-1"}
MIG_POD = {**NODE, "GPU_I_ID": "3", "namespace": "team-research", "pod": "trainer-0"}


def series(name: str, labels: dict[str, str], values: str) -> dict:
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{body}}}", "values": values}


def alert(labels: dict[str, str], severity: str, rule: dict, summary: str, description: str) -> dict:
    """An expected alert: the rule's static runbook, the summary and description as Prometheus expands them."""
    annotations = {"summary": summary, "description": description}
    if "runbook" in rule["annotations"]:
        assert "{{" not in rule["annotations"]["runbook"]
        annotations["runbook"] = rule["annotations"]["runbook"]
    return {"exp_labels": {**labels, "severity": severity}, "exp_annotations": annotations}


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:  # a missing evaluator is a broken CI machine, not a passing test
        pytest.fail("promtool not on PATH: .ci/run installs it (Debian package prometheus)")
    return path


@pytest.fixture(scope="module")
def monitoring():
    return spec_of(stack_config("prod")).monitoring


def run_promtool(promtool: str, tmp_path, monitoring, group: dict) -> subprocess.CompletedProcess:
    """`promtool test rules` on the rendered rules with one test group (input_series, alert_rule_test)."""
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": alert_rule_groups(monitoring)}, allow_unicode=True))
    suite = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [{"interval": "1m", **group}]}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite, allow_unicode=True, sort_keys=False))
    return subprocess.run([promtool, "test", "rules", "suite.yaml"], cwd=tmp_path, capture_output=True, text=True)


def passes(promtool: str, tmp_path, monitoring, group: dict) -> None:
    result = run_promtool(promtool, tmp_path, monitoring, group)
    assert result.returncode == 0, result.stdout + result.stderr


def rules(monitoring) -> dict[str, dict]:
    return {r["alert"]: r for g in alert_rule_groups(monitoring) for r in g["rules"]}


def test_a_busy_mig_instance_is_not_idle_and_an_idle_one_is(promtool, tmp_path, monitoring):
    idle = monitoring.alerts.idle_minutes
    rule = rules(monitoring)["GpuAllocatedButIdle"]
    busy_pod = {**MIG_POD, "pod": "busy-0", "GPU_I_ID": "4"}
    steps = idle + 10
    passes(promtool, tmp_path, monitoring, {
        "input_series": [
            # What a MIG instance reports: the utilization field stays 0, the profiling metric shows the work.
            series("DCGM_FI_DEV_GPU_UTIL", busy_pod, f"0x{steps}"),
            series("DCGM_FI_PROF_GR_ENGINE_ACTIVE", busy_pod, f"0.6x{steps}"),
            series("DCGM_FI_PROF_GR_ENGINE_ACTIVE", MIG_POD, f"0x{steps}"),
        ],
        "alert_rule_test": [
            {"eval_time": f"{idle - 1}m", "alertname": "GpuAllocatedButIdle", "exp_alerts": []},
            {"eval_time": f"{idle + 1}m", "alertname": "GpuAllocatedButIdle", "exp_alerts": [alert(
                {k: MIG_POD[k] for k in ("namespace", "pod", "Hostname", "gpu", "GPU_I_ID")}, "info", rule,
                "Pod team-research/trainer-0 holds an idle GPU",
                f"GPU 0 on gpu-node-1 is allocated but its engine was active under 1% of the time for {idle} minutes.",
            )]},
        ],
    })


def test_a_hardware_xid_is_critical_once_and_resolves_with_its_window(promtool, tmp_path, monitoring):
    rule = rules(monitoring)["GpuXidHardwareError"]
    window = XID_WINDOW_MINUTES
    labels = {**NODE, "xid": "79"}  # 79: GPU has fallen off the bus
    passes(promtool, tmp_path, monitoring, {
        "input_series": [
            # The count of XID 79 over the window: one error at minute 2, gone after the window.
            series("DCGM_EXP_XID_ERRORS_COUNT", labels, f"0 0 1x{window - 1} 0x20"),
            # The last-XID gauge keeps 79 for ever: no alert may read it.
            series("DCGM_FI_DEV_XID_ERRORS", NODE, "0 0 79x30"),
        ],
        "alert_rule_test": [
            {"eval_time": "2m", "alertname": "GpuXidHardwareError", "exp_alerts": []},  # `for: 1m` not yet met
            {"eval_time": "4m", "alertname": "GpuXidHardwareError", "exp_alerts": [alert(
                labels, "critical", rule, "GPU 0 on gpu-node-1 reported XID 79",
                f"1 XID 79 errors in the last {window} minutes: a hardware or driver fault (ECC, row remap, NVLink, GPU off the bus).",
            )]},
            {"eval_time": f"{window + 4}m", "alertname": "GpuXidHardwareError", "exp_alerts": []},
            {"eval_time": "4m", "alertname": "GpuXidApplicationError", "exp_alerts": []},
        ],
    })


@pytest.mark.parametrize("xid", load_facts().application_xids)
def test_an_application_xid_is_informational(promtool, tmp_path, monitoring, xid):
    rule = rules(monitoring)["GpuXidApplicationError"]
    labels = {**NODE, "xid": str(xid)}
    passes(promtool, tmp_path, monitoring, {
        "input_series": [series("DCGM_EXP_XID_ERRORS_COUNT", labels, f"1x{XID_WINDOW_MINUTES}")],
        "alert_rule_test": [
            {"eval_time": "2m", "alertname": "GpuXidHardwareError", "exp_alerts": []},
            {"eval_time": "2m", "alertname": "GpuXidApplicationError", "exp_alerts": [alert(
                labels, "info", rule, f"A workload on GPU 0 on gpu-node-1 raised XID {xid}",
                f"XID {xid} is caused by the application (illegal address, bad kernel, killed process); the GPU is healthy.",
            )]},
        ],
    })


def test_a_hot_gpu_warns_after_five_minutes(promtool, tmp_path, monitoring):
    limit = monitoring.alerts.gpu_temperature_celsius
    rule = rules(monitoring)["GpuTemperatureHigh"]
    passes(promtool, tmp_path, monitoring, {
        "input_series": [series("DCGM_FI_DEV_GPU_TEMP", NODE, f"{limit - 10} {limit + 3}x10")],
        "alert_rule_test": [
            {"eval_time": "4m", "alertname": "GpuTemperatureHigh", "exp_alerts": []},
            {"eval_time": "7m", "alertname": "GpuTemperatureHigh", "exp_alerts": [alert(
                NODE, "warning", rule, f"GPU 0 on gpu-node-1 is above {limit}°C",
                f"Temperature {limit + 3}°C for 5 minutes; expect clock throttling.",
            )]},
        ],
    })


def test_no_exporter_on_a_mig_only_cluster_warns(promtool, tmp_path, monitoring):
    """kube-state-metrics exports extended resources with `.`, `/` and `-` as `_` (kube-state-metrics
    docs/metrics/cluster/node-metrics.md, kube_node_status_capacity): a MIG pool under the `mixed` strategy has
    nvidia_com_mig_<profile> capacity and no nvidia_com_gpu."""
    passes(promtool, tmp_path, monitoring, {
        "input_series": [series("kube_node_status_capacity",
                                {"node": "gpu-node-1", "resource": "nvidia_com_mig_3g_40gb", "unit": "integer"}, "2x20")],
        "alert_rule_test": [{"eval_time": "11m", "alertname": "DcgmExporterAbsent", "exp_alerts": [alert(
            {"job": DCGM_EXPORTER_APP}, "warning", rules(monitoring)["DcgmExporterAbsent"],  # absent() keeps the matcher's labels
            "No dcgm-exporter targets while the cluster has GPU nodes",
            "Prometheus scrapes no dcgm-exporter although kube-state-metrics reports GPU capacity.",
        )]}],
    })


def test_a_wrong_expectation_fails(promtool, tmp_path, monitoring):
    """The harness can fail: promtool rejects an alert the rules do not raise."""
    result = run_promtool(promtool, tmp_path, monitoring, {
        "input_series": [series("DCGM_FI_PROF_GR_ENGINE_ACTIVE", MIG_POD, "0.6x60")],
        "alert_rule_test": [{"eval_time": "59m", "alertname": "GpuAllocatedButIdle",
                             "exp_alerts": [{"exp_labels": {"severity": "info"}}]}],
    })
    assert result.returncode != 0 and "GpuAllocatedButIdle" in result.stdout + result.stderr
