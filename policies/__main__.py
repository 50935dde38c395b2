"""Entry point the Pulumi engine runs (`python -m pulumi.policy ... <pack folder>`): assembles the pack,
nothing else.

PolicyPack(...) serves the engine and never returns, so the policies live in importable modules.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# A pack written by `gpufleet pack` holds core/ beside policies/ and needs nothing else. Run from the
# checkout (this folder is policies/ itself), core and policies are packages of the folder above.
if not (HERE / "core").is_dir():
    sys.path.insert(0, str(HERE.parent))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policies import ALL, PACK_NAME  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    policies=ALL,
    enforcement_level=EnforcementLevel.ADVISORY,
    description="Driver/CUDA/GPU compatibility, GPU node pool, tenancy and supply-chain rules for gpu-fleet stacks.",
    display_name="gpu-fleet",
)
