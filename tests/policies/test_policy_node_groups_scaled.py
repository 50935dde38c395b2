from policy_fixtures import edited, inventory, inventory_pool, messages, node_group, resource

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


def test_a_karpenter_pool_deployed_as_a_node_group_says_so():
    (message,) = messages(POLICY, node_group(max_size=4.0),
                          inventory(inventory_pool(managedBy="gpu-fleet", provisioner="karpenter")))
    assert "provisioner is karpenter, which this version does not deploy yet" in message
