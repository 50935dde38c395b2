from policy_fixtures import DELETE, UNKNOWN, edited, launch_template, messages

POLICY = "imdsv2-required"


def test_imdsv2_with_hop_limit_2_passes():
    assert messages(POLICY, launch_template()) == []


def test_optional_tokens_fail():
    assert "required" in messages(POLICY, edited(launch_template(), ("metadataOptions", "httpTokens"), "optional"))[0]


def test_hop_limit_above_2_fails():
    assert "2 or less" in messages(POLICY, edited(launch_template(), ("metadataOptions", "httpPutResponseHopLimit"), 3.0))[0]


def test_missing_metadata_options_fails():
    assert messages(POLICY, edited(launch_template(), ("metadataOptions",), DELETE))


def test_missing_tokens_fails():
    assert messages(POLICY, edited(launch_template(), ("metadataOptions", "httpTokens"), DELETE))


def test_unknown_values_are_skipped():
    lt = edited(launch_template(), ("metadataOptions", "httpTokens"), UNKNOWN)
    assert messages(POLICY, lt) == []
