from policy_fixtures import (
    UNKNOWN,
    device_plugin_config,
    device_plugin_configmap,
    edited,
    messages,
    namespace,
    network_policy,
    node_group,
    quota,
    violations,
)

POLICY = "tenant-quota-within-capacity"


def stack(gpus, **pool):
    return [node_group(**pool), namespace(), quota("team-a", gpus), network_policy()]


def test_quota_within_capacity_passes():
    # p5.48xlarge: 8 GPUs x maxSize 2 = 16.
    assert messages(POLICY, *stack("16")) == []


def test_quota_above_capacity_is_advisory():
    found = violations(POLICY, *stack("17"))
    assert len(found) == 1 and found[0]["level"] == "advisory" and "16" in found[0]["message"]


def test_oversubscription_ratio_allows_more():
    assert messages(POLICY, *stack("32"), config={POLICY: {"oversubscriptionRatio": 2.0}}) == []


def test_time_slicing_counts_physical_gpus_as_the_plan_does():
    # 2 nodes x 1 L4: a quota of 8 is ratio 4 whatever the time-slicing replicas; the ratio option allows it
    sharing = {"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}}
    resources = [*stack("8", instance_types=("g6.xlarge",), gpu="L4", sharing="time-slicing"),
                 device_plugin_configmap({"train-h100": device_plugin_config(sharing=sharing)})]
    (message,) = messages(POLICY, *resources)
    assert "2 GPUs" in message and "time-slicing" in message
    assert messages(POLICY, *resources, config={POLICY: {"oversubscriptionRatio": 4.0}}) == []


def test_tenants_sharing_pools_are_judged_together():
    # a on {x}, b on {x, y}: {x} holds a alone (16 of 16 GPUs), {x, y} holds both (32 of 24)
    resources = [
        node_group(pool="x"), node_group(pool="y", max_size=1.0),
        namespace(tenant="a", pools=("x",)), quota("a", "16"),
        namespace(tenant="b", pools=("x", "y")), quota("b", "16"),
    ]
    (message,) = messages(POLICY, *resources)
    assert message.startswith("pools [x, y]:") and "(a, b)" in message and "32" in message and "24 GPUs" in message


def test_unknown_max_size_is_skipped():
    resources = stack("1000")
    resources[0] = edited(resources[0], ("scalingConfig", "maxSize"), UNKNOWN)
    assert messages(POLICY, *resources) == []


def test_can_be_made_mandatory():
    found = violations(POLICY, *stack("17"), config={POLICY: "mandatory"})
    assert found[0]["level"] == "mandatory"
