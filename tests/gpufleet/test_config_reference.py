"""docs/config-reference.md is generated from the spec and must not go stale."""

from fleet_fixtures import ROOT

from core.spec import FleetSpec
from gpufleet.config_reference import reference


def test_committed_reference_matches_the_spec():
    committed = (ROOT / "docs" / "config-reference.md").read_text()
    assert committed == reference(), "regenerate: python -m gpufleet.config_reference > docs/config-reference.md"


def test_reference_lists_every_top_level_key():
    text = reference()
    for field in FleetSpec.model_fields.values():
        assert f"gpu-fleet:{field.alias}" in text
    assert "`diskGiB`" in text and "`sharing.migProfile`" in text
