from policy_fixtures import edited, messages, node_group, resource

POLICY = "node-groups-scaled"


def autoscaler(image: str = "registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.0"):
    return resource("kubernetes:apps/v1:Deployment", "cluster-autoscaler", {
        "metadata": {"name": "cluster-autoscaler", "namespace": "kube-system"},
        "spec": {"template": {"spec": {"containers": [{"name": "cluster-autoscaler", "image": image}]}}}})


def test_a_node_group_that_may_grow_with_nothing_to_grow_it_is_reported():
    (message,) = messages(POLICY, node_group(max_size=4.0))
    assert "pool 'train-h100' may hold 0 to 4 nodes" in message and "provisioner: karpenter" in message


def test_a_fixed_node_group_passes():
    fixed = edited(node_group(max_size=2.0), ("scalingConfig", "minSize"), 2.0)
    assert messages(POLICY, fixed) == []


def test_the_cluster_autoscaler_scales_node_groups():
    assert messages(POLICY, node_group(max_size=4.0), autoscaler()) == []
    # Karpenter launches nodes of its own NodePools; it does not resize node groups.
    assert len(messages(POLICY, node_group(max_size=4.0), autoscaler("public.ecr.aws/karpenter/controller:1.13.0"))) == 1


def test_karpenter_pools_are_not_node_groups():
    """What the program renders for prod: its Karpenter pools are NodePools, which the policy leaves alone; its
    node groups with a floor below their max are reported (advisory), not its reserved one of fixed size."""
    from fleet_fixtures import stack_run

    found = messages(POLICY, *stack_run("prod").custom_resources)
    assert sorted(m.split("'")[1] for m in found) == ["inference-l4"], found
