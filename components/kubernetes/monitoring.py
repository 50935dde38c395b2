"""GpuMonitoring: dcgm-exporter on every GPU node, its scrape config, alerts and dashboard.

monitoring.dcgmExporter false: nothing at all. monitoring.serviceMonitor false: the exporter
and its Service only (no Prometheus Operator CRDs needed). Alert rules and the dashboard are
rendered from templates/ with the thresholds of monitoring.alerts.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import yaml

from core.facts import load_facts
from core.names import DCGM_EXPORTER_APP, GRAFANA_DASHBOARD_LABEL, SYSTEM_NAMESPACE
from core.spec import MonitoringSpec
from core.templating import render

from .meta import (
    GpuDaemons,
    app_labels,
    gpu_daemonset,
    gpu_pod_placement,
    image,
    object_meta,
    restricted_container_security,
    selector_labels,
)

METRICS_PORT = 9400
METRICS_PORT_NAME = "metrics"
POD_RESOURCES_DIR = "/var/lib/kubelet/pod-resources"
COLLECTORS_DIR = "/etc/dcgm-exporter/gpufleet"
COLLECTORS_FILE = "collectors.csv"
MONITORING_API = "monitoring.coreos.com/v1"
SCRAPE_INTERVAL = "30s"


@dataclass(frozen=True)
class Field:
    key: str  # how templates refer to it
    name: str  # the DCGM field = the Prometheus metric name
    type: str
    help: str


# The window dcgm-exporter counts XIDs over (DCGM_EXP_XID_ERRORS_COUNT, one series per `xid` label; flag
# --xid-count-window-size, env DCGM_EXPORTER_XID_COUNT_WINDOW_SIZE in ms, default 5 minutes: dcgm-exporter
# pkg/cmd/app.go and internal/pkg/collector/xid_collector.go). A new XID raises the count for one window.
XID_WINDOW_MINUTES = 5

# The DCGM fields the exporter collects: everything the alerts and the dashboard read. Activity is the
# profiling metric: DCGM_FI_DEV_GPU_UTIL reads 0 on MIG instances, and NVIDIA points to
# DCGM_FI_PROF_GR_ENGINE_ACTIVE instead (dcgm-exporter issues 216 and 430); profiling metrics need Volta
# or newer (issue 395), which every GPU of the facts is (tests/components/kubernetes/test_monitoring.py).
FIELDS = [
    Field("engine_active", "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge", "Ratio of time the graphics engine is active."),
    Field("fb_used", "DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB)."),
    Field("fb_free", "DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB)."),
    Field("temp", "DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C)."),
    Field("power", "DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W)."),
    Field("xid_count", "DCGM_EXP_XID_ERRORS_COUNT", "gauge", "Count of XID errors within the last window, per xid."),
    Field("row_remap_failure", "DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge", "Whether remapping of rows has failed."),
    Field("ecc_dbe", "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "counter", "Total number of double-bit volatile ECC errors."),
]
METRIC = {f.key: f.name for f in FIELDS}


def collectors_csv() -> str:
    return render("dcgm-metrics.csv.j2", fields=FIELDS)


def alert_rule_groups(monitoring: MonitoringSpec) -> list[dict]:
    """The PrometheusRule spec.groups, thresholds from monitoring.alerts."""
    alerts = monitoring.alerts
    text = render(
        "gpu-alerts.yaml.j2",
        metric=METRIC,
        job=DCGM_EXPORTER_APP,
        temperature_celsius=alerts.gpu_temperature_celsius,
        memory_used_ratio=alerts.memory_used_ratio,
        idle_minutes=alerts.idle_minutes,
        xid_window_minutes=XID_WINDOW_MINUTES,
        application_xids="|".join(str(x) for x in load_facts().application_xids),
    )
    return yaml.safe_load(text)["groups"]


def dashboard_json(monitoring: MonitoringSpec, cluster_name: str) -> str:
    alerts = monitoring.alerts
    return render(
        "gpu-dashboard.json.j2",
        uid=f"gpufleet-{cluster_name}"[:40],
        title=f"GPU fleet: {cluster_name}",
        metric=METRIC,
        temperature_celsius=alerts.gpu_temperature_celsius,
        memory_used_ratio=alerts.memory_used_ratio,
    )


def exporter_pod_spec(gpu_tolerations: tuple[dict, ...], image: str, configmap: str) -> dict:
    """dcgm-exporter: root (the kubelet pod-resources socket), SYS_ADMIN only: DCGM profiling needs it,
    and the nodes' toolkit honours the image's NVIDIA_VISIBLE_DEVICES=all only for a container with it."""
    return {
        "serviceAccountName": DCGM_EXPORTER_APP,
        "automountServiceAccountToken": False,  # pod mapping uses the kubelet socket, not the API
        **gpu_pod_placement(gpu_tolerations),
        "containers": [
            {
                "name": DCGM_EXPORTER_APP,
                "image": image,
                "env": [
                    {"name": "DCGM_EXPORTER_LISTEN", "value": f":{METRICS_PORT}"},
                    {"name": "DCGM_EXPORTER_KUBERNETES", "value": "true"},
                    {"name": "DCGM_EXPORTER_COLLECTORS", "value": f"{COLLECTORS_DIR}/{COLLECTORS_FILE}"},
                    {"name": "DCGM_EXPORTER_XID_COUNT_WINDOW_SIZE", "value": str(XID_WINDOW_MINUTES * 60_000)},
                    {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                ],
                "ports": [{"name": METRICS_PORT_NAME, "containerPort": METRICS_PORT, "protocol": "TCP"}],
                # DCGM's embedded host engine writes under the root filesystem, so it stays writable.
                "securityContext": {
                    **restricted_container_security(read_only_root=False, add_capabilities=["SYS_ADMIN"]),
                    "runAsUser": 0,
                    "runAsNonRoot": False,
                },
                "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
                "readinessProbe": {"httpGet": {"path": "/health", "port": METRICS_PORT}, "initialDelaySeconds": 30},
                "livenessProbe": {"httpGet": {"path": "/health", "port": METRICS_PORT}, "initialDelaySeconds": 60},
                "volumeMounts": [
                    {"name": "pod-resources", "mountPath": POD_RESOURCES_DIR, "readOnly": True},
                    {"name": "collectors", "mountPath": COLLECTORS_DIR, "readOnly": True},
                ],
            }
        ],
        "volumes": [
            {"name": "pod-resources", "hostPath": {"path": POD_RESOURCES_DIR, "type": "Directory"}},
            {"name": "collectors", "configMap": {"name": configmap}},
        ],
    }


def service_monitor_spec() -> dict:
    """Scrape the exporter; keep the workload's pod/namespace labels dcgm-exporter sets."""
    return {
        "selector": {"matchLabels": selector_labels(DCGM_EXPORTER_APP)},
        "namespaceSelector": {"matchNames": [SYSTEM_NAMESPACE]},
        "endpoints": [
            {
                "port": METRICS_PORT_NAME,
                "interval": SCRAPE_INTERVAL,
                "honorLabels": True,
                # The exporter pod's own pod/namespace/container target labels would be stamped on
                # unallocated GPUs; drop them so `pod` means the workload holding the GPU.
                "relabelings": [
                    {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"},
                    {"action": "labeldrop", "regex": "pod|namespace|container"},
                ],
            }
        ],
    }


@dataclass(frozen=True)
class GpuMonitoringArgs:
    monitoring: MonitoringSpec
    """Switches, exporter version and alert thresholds."""
    cluster_name: str
    """Names the dashboard."""
    daemons: GpuDaemons
    """The GPU nodes' tolerations, the readiness wait and the system namespace."""


class GpuMonitoring(pulumi.ComponentResource):
    """dcgm-exporter DaemonSet + Service, ServiceMonitor, PrometheusRule, Grafana dashboard."""

    def __init__(self, name: str, args: GpuMonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:monitoring:GpuMonitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        monitoring, ns = args.monitoring, args.daemons.namespace
        exporter_image = image(load_facts().software.dcgm_exporter_image, monitoring.exporter_version)
        labels = app_labels(DCGM_EXPORTER_APP)
        collectors_name = f"{DCGM_EXPORTER_APP}-collectors"

        if monitoring.dcgm_exporter:
            sa = k8s.core.v1.ServiceAccount(
                DCGM_EXPORTER_APP,
                metadata=object_meta(DCGM_EXPORTER_APP, ns, labels),
                automount_service_account_token=False,
                opts=child,
            )
            collectors = k8s.core.v1.ConfigMap(
                collectors_name,
                metadata=object_meta(collectors_name, ns, labels),
                data={COLLECTORS_FILE: collectors_csv()},
                opts=child,
            )
            gpu_daemonset(
                DCGM_EXPORTER_APP,
                args.daemons,
                exporter_pod_spec(args.daemons.tolerations, exporter_image, collectors_name),
                pulumi.ResourceOptions(parent=self, depends_on=[sa, collectors]),
            )
            service = k8s.core.v1.Service(
                DCGM_EXPORTER_APP,
                metadata=object_meta(DCGM_EXPORTER_APP, ns, labels),
                spec={
                    "selector": selector_labels(DCGM_EXPORTER_APP),
                    "ports": [{"name": METRICS_PORT_NAME, "port": METRICS_PORT, "targetPort": METRICS_PORT_NAME}],
                },
                opts=child,
            )
            if monitoring.service_monitor:
                k8s.apiextensions.CustomResource(
                    f"{DCGM_EXPORTER_APP}-servicemonitor",
                    api_version=MONITORING_API,
                    kind="ServiceMonitor",
                    metadata=object_meta(DCGM_EXPORTER_APP, ns, labels),
                    spec=service_monitor_spec(),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[service]),
                )
                k8s.apiextensions.CustomResource(
                    "gpufleet-gpu-alerts",
                    api_version=MONITORING_API,
                    kind="PrometheusRule",
                    metadata=object_meta("gpufleet-gpu-alerts", ns, labels),
                    spec={"groups": alert_rule_groups(monitoring)},
                    opts=child,
                )
            k8s.core.v1.ConfigMap(
                "gpufleet-gpu-dashboard",
                metadata=object_meta("gpufleet-gpu-dashboard", ns, {**labels, GRAFANA_DASHBOARD_LABEL: "1"}),
                data={"gpufleet-gpu.json": dashboard_json(monitoring, args.cluster_name)},
                opts=child,
            )
        self.register_outputs({"image": exporter_image, "exporter": monitoring.dcgm_exporter})
