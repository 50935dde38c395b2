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


def test_eks_add_on_images_from_awss_regional_registries_pass():
    """EKS user guide, "View Amazon container image registries for Amazon EKS add-ons": 602401143452 in most
    regions, 877085696533 in af-south-1, 918309763551 in cn-north-1 (amazonaws.com.cn)."""
    for image in ("602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/aws-efa-k8s-device-plugin:v0.5.20",
                  "877085696533.dkr.ecr.af-south-1.amazonaws.com/eks/aws-efa-k8s-device-plugin:v0.5.20",
                  "918309763551.dkr.ecr.cn-north-1.amazonaws.com.cn/eks/aws-efa-k8s-device-plugin:v0.5.20"):
        assert messages(POLICY, daemon_set(image=image)) == [], image


def test_other_ecr_registries_and_paths_fail():
    for image in ("123456789012.dkr.ecr.us-east-1.amazonaws.com/eks/plugin:v1",  # someone's own account
                  "602401143452.dkr.ecr.af-south-1.amazonaws.com/eks/plugin:v1",  # not af-south-1's account
                  "602401143452.dkr.ecr.us-east-1.amazonaws.com/tools/plugin:v1",  # not an EKS image
                  "602401143452.dkr.ecr.us-east-1.amazonaws.com.evil.example/eks/plugin:v1"):
        assert messages(POLICY, daemon_set(image=image)), image


def test_eks_registries_can_be_turned_off():
    config = {POLICY: {"allowEksRegistries": False}}
    image = "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/aws-efa-k8s-device-plugin:v0.5.20"
    assert messages(POLICY, daemon_set(image=image), config=config)
