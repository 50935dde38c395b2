from policy_fixtures import messages, namespace, violations

POLICY = "tenant-pod-security"


def test_restricted_passes():
    assert messages(POLICY, namespace(enforce="restricted")) == []


def test_baseline_fails_by_default():
    assert "restricted" in messages(POLICY, namespace(enforce="baseline"))[0]


def test_baseline_passes_when_configured():
    assert messages(POLICY, namespace(enforce="baseline"), config={POLICY: {"minimumLevel": "baseline"}}) == []


def test_privileged_fails_even_with_baseline():
    assert messages(POLICY, namespace(enforce="privileged"), config={POLICY: {"minimumLevel": "baseline"}})


def test_missing_label_fails():
    assert "not set" in messages(POLICY, namespace(enforce=None))[0]


def test_is_mandatory():
    assert violations(POLICY, namespace(enforce=None))[0]["level"] == "mandatory"
