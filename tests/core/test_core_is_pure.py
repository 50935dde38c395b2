"""core/ is what the program, the policy pack and the CLI agree on: it imports no Pulumi, ever."""

from __future__ import annotations

import ast
from pathlib import Path

import core

CORE = Path(core.__file__).parent
FORBIDDEN = ("pulumi", "pulumi_aws", "pulumi_kubernetes", "pulumi_policy", "components", "gpufleet", "policies")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):  # every import, also inside functions
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_core_imports_no_pulumi_and_nothing_built_on_it():
    offenders = {
        f"{path.relative_to(CORE)}: {module}"
        for path in sorted(CORE.rglob("*.py"))
        for module in imported_modules(path)
        if module.split(".")[0] in FORBIDDEN
    }
    assert not offenders, offenders


def test_the_check_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from pulumi.runtime import config\n    import pulumi_aws as aws\n")
    assert imported_modules(module) == {"pulumi.runtime", "pulumi_aws"}
