from policy_fixtures import edited, messages, namespace, network_policy

POLICY = "tenant-network-isolated"


def test_default_deny_passes():
    assert messages(POLICY, namespace(), network_policy()) == []


def test_missing_network_policy_fails():
    assert "default-deny" in messages(POLICY, namespace())[0]


def test_policy_selecting_some_pods_only_fails():
    np = edited(network_policy(), ("spec", "podSelector"), {"matchLabels": {"app": "web"}})
    assert messages(POLICY, namespace(), np)


def test_allow_all_namespaces_fails():
    np = edited(network_policy(), ("spec", "ingress"), [{"from": [{"namespaceSelector": {}}]}])
    assert messages(POLICY, namespace(), np)


def test_rule_without_from_admits_everything_and_fails():
    np = edited(network_policy(), ("spec", "ingress"), [{}])
    assert messages(POLICY, namespace(), np)


def test_egress_only_policy_fails():
    np = edited(network_policy(), ("spec", "policyTypes"), ["Egress"])
    assert messages(POLICY, namespace(), np)


def test_policy_in_another_namespace_does_not_count():
    assert messages(POLICY, namespace(), network_policy("team-b"))
