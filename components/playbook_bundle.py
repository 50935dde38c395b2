"""PlaybookBundle: playbooks/ packed, content-hashed, in a private S3 bucket nodes read at boot.

The object key carries the content hash, so a change to any playbook changes every launch
template that points at it and the node groups roll.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pulumi
import pulumi_aws as aws

PLAYBOOKS_DIR = Path(__file__).resolve().parent.parent / "playbooks"
_SKIP_DIRS = {"__pycache__", ".git", ".pytest_cache"}
_SKIP_SUFFIXES = (".pyc", ".retry")


def bundle_files(root: Path = PLAYBOOKS_DIR) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not _SKIP_DIRS.intersection(p.relative_to(root).parts) and not p.name.endswith(_SKIP_SUFFIXES)
    )


def bundle_hash(root: str | Path = PLAYBOOKS_DIR) -> str:
    """sha256 over length-prefixed relative paths and contents: no clock, no mtime, so it is
    stable across machines and checkouts and changes when any file is added, renamed or edited."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"bundle_hash: {str(root)!r} is not a directory")
    digest = hashlib.sha256()
    for path in bundle_files(root):
        for chunk in (path.relative_to(root).as_posix().encode(), path.read_bytes()):
            digest.update(len(chunk).to_bytes(8, "big") + chunk)
    return digest.hexdigest()


def bundle_key(digest: str) -> str:
    return f"playbooks/{digest[:16]}.zip"  # the provider uploads a FileArchive as a zip


def read_policy(bucket_arn: str) -> str:
    """Nodes may read bundles and nothing else."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"{bucket_arn}/playbooks/*"}],
        }
    )


class PlaybookBundle(pulumi.ComponentResource):
    """An encrypted, versioned, private bucket holding the packed playbooks."""

    def __init__(self, name: str, root: Path = PLAYBOOKS_DIR, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:bundle:PlaybookBundle", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.digest = bundle_hash(root)
        bucket = aws.s3.Bucket(name, force_destroy=True, opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            name,
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms"
                    )
                )
            ],
            opts=child,
        )
        aws.s3.BucketVersioning(
            name, bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=child
        )
        aws.s3.BucketPublicAccessBlock(
            name,
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        self.key = bundle_key(self.digest)
        aws.s3.BucketObjectv2(
            f"{name}-{self.digest[:16]}",
            bucket=bucket.id,
            key=self.key,
            source=pulumi.FileArchive(str(root)),
            opts=child,
        )
        self.bucket = bucket.bucket
        self.bucket_arn = bucket.arn
        self.register_outputs({"bucket": self.bucket, "key": self.key, "digest": self.digest})
