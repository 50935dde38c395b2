"""PlaybookBundle: playbooks/ packed, content-hashed (core.bundle), in a private S3 bucket nodes read at boot."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from core.assets import playbooks_dir
from core.bundle import bundle_files, bundle_hash, bundle_key


def read_policy(bucket_arn: str) -> str:
    """Nodes may read bundles and nothing else."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"{bucket_arn}/playbooks/*"}],
        }
    )


@dataclass(frozen=True)
class PlaybookBundleArgs:
    root: Path = field(default_factory=playbooks_dir)
    """The playbooks directory to pack (the installed package's by default)."""


class PlaybookBundle(pulumi.ComponentResource):
    """An encrypted, versioned, private bucket holding the packed playbooks."""

    def __init__(self, name: str, args: PlaybookBundleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:bundle:PlaybookBundle", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.digest = bundle_hash(args.root)
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
        aws.s3.BucketVersioning(name, bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=child)
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
        # Exactly the hashed files, so the key names what nodes get.
        archive = pulumi.AssetArchive(
            {path.relative_to(args.root).as_posix(): pulumi.FileAsset(str(path)) for path in bundle_files(args.root)}
        )
        aws.s3.BucketObjectv2(f"{name}-{self.digest[:16]}", bucket=bucket.id, key=self.key, source=archive, opts=child)
        self.bucket = bucket.bucket
        self.bucket_arn = bucket.arn
        self.register_outputs({"bucket": self.bucket, "key": self.key, "digest": self.digest})
