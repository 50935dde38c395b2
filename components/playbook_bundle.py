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
_IGNORED = {"__pycache__", ".pytest_cache"}


def bundle_files(root: Path = PLAYBOOKS_DIR) -> list[Path]:
    return sorted(
        p for p in root.rglob("*") if p.is_file() and not _IGNORED.intersection(p.relative_to(root).parts)
    )


def bundle_hash(root: Path = PLAYBOOKS_DIR) -> str:
    """sha256 over relative paths and contents: stable across machines and checkouts."""
    digest = hashlib.sha256()
    for path in bundle_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
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
