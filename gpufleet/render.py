"""`gpufleet render`: every artifact the program generates, written out for review.

    DIR/kubernetes/<kind>.<namespace>.<name>.yaml   manifests exactly as registered
    DIR/user-data/<pool>.mime                       launch template user data (EKS pools on AL2023: nodeadm MIME)
    DIR/user-data/<pool>.cloud-config               launch template user data (EKS pools on Ubuntu: cloud-init)
    DIR/ansible-vars/<pool>.json                    the vars playbooks/site.yml gets per pool
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from pathlib import Path

import yaml

from core.karpenter import NODECLASS_API_VERSION, NODECLASS_KIND
from core.names import node_pool_name

from .offline import OfflineRun
from .targets import UsageError

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_CLASS = f"kubernetes:{NODECLASS_API_VERSION}:{NODECLASS_KIND}"


def _integral(value):
    """Mocks carry numbers as protobuf doubles; give back the integers the program wrote (9400, not 9400.0)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def manifest_documents(run: OfflineRun) -> dict[str, dict]:
    """File name -> manifest for every Kubernetes object the program registered."""
    documents = {}
    for resource in run.custom_resources:
        if not resource.type.startswith("kubernetes:") or resource.type.startswith("kubernetes:helm"):
            continue
        manifest = _integral(dict(resource.inputs))
        metadata = manifest.get("metadata", {})
        namespace = metadata.get("namespace", "_cluster")
        documents[f"{manifest['kind']}.{namespace}.{metadata.get('name', resource.name)}.yaml"] = manifest
    return documents


def _pool_user_data(run: OfflineRun) -> dict[str, str]:
    """Pool name -> its user data: a node group's launch template's (base64), a Karpenter pool's node class's."""
    found = {}
    templates = {r.name: r for r in run.custom_resources if r.type == LAUNCH_TEMPLATE}
    for pool in run.plan.pools:
        template = templates.get(node_pool_name(run.plan.cluster.name, pool.name))
        if template is not None and template.inputs.get("userData"):
            found[pool.name] = base64.b64decode(template.inputs["userData"]).decode()
    for node_class in (r for r in run.custom_resources if r.type == NODE_CLASS):
        if node_class.inputs["spec"].get("userData"):
            found[node_class.inputs["metadata"]["name"]] = node_class.inputs["spec"]["userData"]
    return found


def user_data_documents(run: OfflineRun) -> dict[str, str]:
    texts = _pool_user_data(run)
    return {f"{pool.name}.{'cloud-config' if pool.custom_ami else 'mime'}": texts[pool.name]
            for pool in run.plan.pools if pool.name in texts}


def render_artifacts(run: OfflineRun) -> dict[str, str]:
    """Relative path -> text of every artifact."""
    files = {
        f"kubernetes/{name}": yaml.safe_dump(doc, sort_keys=True) for name, doc in manifest_documents(run).items()
    }
    files.update({f"user-data/{name}": text for name, text in user_data_documents(run).items()})
    files.update(
        {
            f"ansible-vars/{pool.name}.json": json.dumps(dict(pool.ansible_vars), indent=2, sort_keys=True) + "\n"
            for pool in run.plan.pools
        }
    )
    return dict(sorted(files.items()))


def check_out(out: Path, clean: bool) -> None:
    """Refuse, before anything is computed or written, an --out that is a file, or a directory that
    already holds files (stale artifacts of another stack would sit beside the new ones) unless
    --clean replaces it."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: '{out}' exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not clean:
        raise UsageError(
            f"--out: '{out}' is not empty (it may hold another stack's artifacts): "
            "choose an empty or new directory, or pass --clean to replace its contents"
        )


def write_artifacts(files: dict[str, str], out: Path) -> None:
    """All files or none: written into a fresh directory beside `out`, which then replaces `out`."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            for relative, text in files.items():
                path = staging / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
            if out.is_dir():
                shutil.rmtree(out)
            staging.rename(out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as error:
        raise UsageError(f"--out: cannot write '{out}': {error.strerror or error}") from None
