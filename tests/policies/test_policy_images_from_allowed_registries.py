from policy_fixtures import daemon_set, messages

POLICY = "images-from-allowed-registries"


def test_nvcr_image_passes():
    assert messages(POLICY, daemon_set()) == []


def test_default_registries():
    for image in ("registry.k8s.io/pause:3.10", "public.ecr.aws/eks/aws-node:v1.19.0"):
        assert messages(POLICY, daemon_set(image=image)) == [], image


def test_docker_hub_image_fails():
    found = messages(POLICY, daemon_set(image="nvidia/k8s-device-plugin:v0.20.0"))
    assert len(found) == 1 and "docker.io" in found[0]


def test_lookalike_registry_fails():
    assert messages(POLICY, daemon_set(image="nvcr.io.evil.example/nvidia/plugin:v1"))


def test_allowed_registries_are_configurable():
    config = {POLICY: {"allowedRegistries": ["mirror.example.com"]}}
    assert messages(POLICY, daemon_set(image="mirror.example.com/nvidia/plugin:v1"), config=config) == []
    assert messages(POLICY, daemon_set(), config=config)


def test_path_prefix_entries():
    config = {POLICY: {"allowedRegistries": ["public.ecr.aws/eks"]}}
    assert messages(POLICY, daemon_set(image="public.ecr.aws/eks/x:v1"), config=config) == []
    assert messages(POLICY, daemon_set(image="public.ecr.aws/other/x:v1"), config=config)
