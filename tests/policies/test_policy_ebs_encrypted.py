from policy_fixtures import DELETE, UNKNOWN, edited, launch_template, messages, resource

POLICY = "ebs-encrypted"


def test_encrypted_root_volume_passes():
    assert messages(POLICY, launch_template()) == []


def test_unencrypted_mapping_fails():
    found = messages(POLICY, edited(launch_template(), ("blockDeviceMappings", 0, "ebs", "encrypted"), "false"))
    assert "/dev/xvda" in found[0]


def test_encryption_not_set_fails():
    assert messages(POLICY, edited(launch_template(), ("blockDeviceMappings", 0, "ebs", "encrypted"), DELETE))


def test_no_mappings_fails():
    assert messages(POLICY, edited(launch_template(), ("blockDeviceMappings",), DELETE))


def test_unknown_encryption_is_skipped():
    assert messages(POLICY, edited(launch_template(), ("blockDeviceMappings", 0, "ebs", "encrypted"), UNKNOWN)) == []


def test_ebs_volume_resource():
    assert messages(POLICY, resource("aws:ebs/volume:Volume", "v", {"size": 10.0, "encrypted": True})) == []
    assert messages(POLICY, resource("aws:ebs/volume:Volume", "v", {"size": 10.0}))
