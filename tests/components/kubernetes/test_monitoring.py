"""Alert rules, dashboard and exporter wiring rendered from templates/."""

from __future__ import annotations

import json

import promql_parser
import pytest
from fleet_fixtures import STACKS, plan_of, spec_of, stack_config, stack_run

from components.kubernetes.monitoring import FIELDS, alert_rule_groups, collectors_csv, dashboard_json, exporter_pod_spec

EXPECTED_ALERTS = {
    "GpuTemperatureHigh", "GpuXidHardwareError", "GpuXidApplicationError", "GpuRowRemapFailure", "GpuEccDoubleBitErrors",
    "GpuMemoryNearlyFull", "GpuAllocatedButIdle", "DcgmExporterDown", "DcgmExporterAbsent",
}


def rules_of(spec) -> dict[str, dict]:
    return {r["alert"]: r for g in alert_rule_groups(spec.monitoring) for r in g["rules"]}


@pytest.mark.parametrize("stack", STACKS)
def test_every_alert_expression_parses_as_promql(stack):
    rules = rules_of(spec_of(stack_config(stack)))
    assert set(rules) == EXPECTED_ALERTS
    for name, rule in rules.items():
        promql_parser.parse(rule["expr"])
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert rule["annotations"]["runbook"], name


def test_thresholds_come_from_the_spec():
    config = stack_config("prod")
    config["monitoring"]["alerts"] = {"gpuTemperatureCelsius": 77, "idleMinutes": 45, "memoryUsedRatio": 0.9}
    rules = rules_of(spec_of(config))
    assert rules["GpuTemperatureHigh"]["expr"].endswith("(DCGM_FI_DEV_GPU_TEMP) > 77")
    assert rules["GpuMemoryNearlyFull"]["expr"] == (
        "(DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)) > 0.9"
    )
    assert rules["GpuAllocatedButIdle"]["for"] == "45m"
    assert 'DCGM_FI_PROF_GR_ENGINE_ACTIVE{pod!=""}) < 0.01' in rules["GpuAllocatedButIdle"]["expr"]


def test_no_alert_reads_metrics_that_lie_on_mig_or_stick_forever():
    """DCGM_FI_DEV_GPU_UTIL reads 0 on MIG instances (NVIDIA/dcgm-exporter issues 216 and 430) and
    DCGM_FI_DEV_XID_ERRORS holds the last XID until the driver reloads (dcgm-exporter
    internal/pkg/collector/xid_collector.go counts XIDs per window in DCGM_EXP_XID_ERRORS_COUNT instead)."""
    rules = rules_of(spec_of(stack_config("prod")))
    for name, rule in rules.items():
        assert "DCGM_FI_DEV_GPU_UTIL" not in rule["expr"], name
        assert "DCGM_FI_DEV_XID_ERRORS" not in rule["expr"].replace("DCGM_FI_DEV_XID_ERRORS_COUNT", ""), name
    for name in ("GpuXidHardwareError", "GpuXidApplicationError"):
        assert rules[name]["for"] and rules[name]["annotations"]["runbook"], name
    assert rules["GpuXidHardwareError"]["labels"]["severity"] == "critical"
    assert rules["GpuXidApplicationError"]["labels"]["severity"] == "info"


def test_every_gpu_supports_the_profiling_metric():
    """DCGM profiling metrics (DCGM_FI_PROF_*) need Volta or newer (NVIDIA/dcgm-exporter issue 395; DCGM
    user guide, "Profiling Metrics"): the idle alert reads one, so every GPU the fleet may run must have it."""
    from core.facts import load_facts

    volta = (7, 0)
    for name, gpu in load_facts().gpus.items():
        assert tuple(int(p) for p in gpu.compute_capability.split(".")) >= volta, name


def test_alert_metrics_are_collected():
    collected = {line.split(",")[0] for line in collectors_csv().splitlines() if line and not line.startswith("#")}
    assert collected == {f.name for f in FIELDS}
    spec = spec_of(stack_config("prod"))
    read = json.dumps(alert_rule_groups(spec.monitoring)) + dashboard_json(spec.monitoring, spec.cluster.name)
    for metric in ("DCGM_FI_DEV_ROW_REMAP_FAILURE", "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "DCGM_EXP_XID_ERRORS_COUNT"):
        assert metric in read and metric in collected
    for field in FIELDS:  # nothing collected that no alert or panel reads
        assert field.name in read, field.name


def test_prometheus_templating_survives_jinja():
    rule = rules_of(spec_of(stack_config("prod")))["GpuAllocatedButIdle"]
    assert rule["annotations"]["summary"] == "Pod {{ $labels.namespace }}/{{ $labels.pod }} holds an idle GPU"


@pytest.mark.parametrize("stack", STACKS)
def test_dashboard_is_valid_json_with_valid_queries(stack):
    spec = spec_of(stack_config(stack))
    dashboard = json.loads(dashboard_json(spec.monitoring, spec.cluster.name))
    assert dashboard["uid"] == f"gpufleet-{spec.cluster.name}"
    assert len(dashboard["panels"]) == 6
    assert len({p["id"] for p in dashboard["panels"]}) == 6
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            promql_parser.parse(target["expr"])
    temp = next(p for p in dashboard["panels"] if "temperature" in p["title"])
    assert temp["fieldConfig"]["defaults"]["thresholds"]["steps"][-1]["value"] == spec.monitoring.alerts.gpu_temperature_celsius


def test_registered_monitoring_objects_prod():
    run = stack_run("prod")
    objects = {(r.inputs["kind"], r.inputs["metadata"]["name"]): r.inputs for r in run.custom_resources
               if r.type.startswith("kubernetes:")}
    rule = objects[("PrometheusRule", "gpufleet-gpu-alerts")]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]} == EXPECTED_ALERTS
    monitor = objects[("ServiceMonitor", "dcgm-exporter")]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["selector"]["matchLabels"] == objects[("Service", "dcgm-exporter")]["spec"]["selector"]
    dashboard = objects[("ConfigMap", "gpufleet-gpu-dashboard")]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    json.loads(dashboard["data"]["gpufleet-gpu.json"])


def test_exporter_pod_spec():
    plan = plan_of(stack_config("prod"))
    pod = exporter_pod_spec(plan.gpu_tolerations, "img:tag", "cm")
    container = pod["containers"][0]
    assert container["ports"] == [{"name": "metrics", "containerPort": 9400, "protocol": "TCP"}]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["SYS_ADMIN"]}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert [v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v] == ["/var/lib/kubelet/pod-resources"]
    assert pod["automountServiceAccountToken"] is False
