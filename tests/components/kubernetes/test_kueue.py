"""The Kueue manager's deployment (components/kubernetes/kueue.py) against its release (vendor/kueue)."""

from __future__ import annotations

import yaml

from components.kubernetes.kueue import (
    CONVERTED_CRDS,
    MUTATING_WEBHOOKS,
    VALIDATING_WEBHOOKS,
    WEBHOOK_SERVICE,
    crd_documents,
    crd_spec,
    manager_config,
    manager_pod_spec,
    manager_rules,
    webhooks,
)
from core.facts import load_facts
from core.names import KUEUE_NAMESPACE, POOL_LABEL, SYSTEM_POOL


def test_every_vendored_crd_is_installed_and_the_hub_kinds_convert_through_the_manager():
    crds = crd_documents()
    assert len(crds) == 11 and all(c["kind"] == "CustomResourceDefinition" for c in crds)
    converted = set()
    for crd in crds:
        spec = crd_spec(crd)
        storage = [v["name"] for v in spec["versions"] if v["storage"]]
        assert storage == ["v1beta2"]
        if "conversion" in spec:
            converted.add(spec["names"]["plural"])
            assert spec["conversion"]["webhook"]["clientConfig"]["service"] == {
                "namespace": KUEUE_NAMESPACE, "name": WEBHOOK_SERVICE, "path": "/convert"}
    assert converted == set(CONVERTED_CRDS)


def test_only_kueues_own_and_job_webhooks_are_registered_each_calling_the_service():
    for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        hooks = webhooks(kind)
        names = {h["name"] for h in hooks}
        assert {"mjob.kb.io", "vjob.kb.io"} & names
        assert not {"mpod.kb.io", "vpod.kb.io", "mdeployment.kb.io", "vstatefulset.kb.io"} & names
        for hook in hooks:
            assert hook["failurePolicy"] == "Fail"  # as released: kept, the manager is on the system pool
            assert hook["clientConfig"] == {"service": {
                "name": WEBHOOK_SERVICE, "namespace": KUEUE_NAMESPACE, "path": hook["clientConfig"]["service"]["path"]}}
    validating = {h["name"] for h in webhooks("ValidatingWebhookConfiguration")}
    assert {"vclusterqueue.kb.io", "vcohort.kb.io", "vresourceflavor.kb.io", "vworkload.kb.io"} <= validating


def test_webhook_configurations_are_named_as_the_cert_rotator_injects_them():
    # pkg/util/cert/cert.go: the CA goes into <service name less -webhook-service>-{mutating,validating}-webhook-configuration
    base = WEBHOOK_SERVICE.removesuffix("-webhook-service")
    assert (MUTATING_WEBHOOKS, VALIDATING_WEBHOOKS) == (
        f"{base}-mutating-webhook-configuration", f"{base}-validating-webhook-configuration")


def test_manager_role_is_the_releases():
    rules = manager_rules()
    assert {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["delete", "get", "list", "patch", "update", "watch"]} in rules


def test_configuration_queues_jobs_with_fair_sharing():
    config = manager_config()
    assert config["integrations"]["frameworks"] == ["batch/job"]
    assert config["fairSharing"]["preemptionStrategies"]  # required once the block is present (pkg/config/validation.go)
    assert config["manageJobsWithoutQueueName"] is False
    assert config["internalCertManagement"]["webhookServiceName"] == WEBHOOK_SERVICE
    yaml.safe_dump(config)


def test_manager_runs_the_pinned_image_on_the_system_pool():
    software = load_facts().software
    spec = manager_pod_spec(system_pool=True)
    (container,) = spec["containers"]
    assert container["image"] == f"{software.kueue_image}:{software.kueue_version}"
    assert spec["nodeSelector"] == {POOL_LABEL: SYSTEM_POOL}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert "nodeSelector" not in manager_pod_spec(system_pool=False)
