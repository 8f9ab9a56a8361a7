"""Terraform AWS data stores: S3, EBS, RDS, EFS, DynamoDB, SQS, SNS, ECR, OpenSearch,
Redshift, ElastiCache."""

from __future__ import annotations

from collections.abc import Iterator

from stackwarden.detect.misconfig.checks import HIGH, LOW, MEDIUM, check
from stackwarden.detect.misconfig.checks.tf_common import (
    AWS_DOCS,
    TF,
    allows,
    at,
    attr_false,
    attr_not_true,
    attr_true,
    blocks,
    companions,
    document_statements,
    first,
    has_companion,
    open_principal,
)
from stackwarden.detect.misconfig.checks.util import is_false, is_true, unknown
from stackwarden.detect.misconfig.controls import aws
from stackwarden.detect.misconfig.model import Document, Hit

PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read",
                         "website"})
BLOCK_SETTINGS = ("block_public_acls", "block_public_policy", "ignore_public_acls",
                  "restrict_public_buckets")
S3 = "aws_s3_bucket"


def _bucket_acl(doc: Document) -> Iterator[Hit]:
    if doc.body.get("acl") in PUBLIC_ACLS:
        yield at(doc, f"bucket ACL {doc.body['acl']} makes objects public", "acl")
    for acl in companions(doc, "aws_s3_bucket_acl", "bucket"):
        if acl.body.get("acl") in PUBLIC_ACLS:
            yield at(doc, f"{acl.name} sets ACL {acl.body['acl']}", subject_key(acl))


def subject_key(doc: Document) -> str:
    """A companion's address as the fingerprint subject."""
    return doc.name


def _no_public_block(doc: Document) -> Iterator[Hit]:
    if not has_companion(doc, "aws_s3_bucket_public_access_block", "bucket"):
        yield at(doc, "no aws_s3_bucket_public_access_block for this bucket")


def _weak_public_block(doc: Document) -> Iterator[Hit]:
    for key in BLOCK_SETTINGS:
        value = doc.body.get(key)
        if value is None or is_false(value):
            yield at(doc, f"{key} is {'not set' if value is None else 'false'}", key)


def _bucket_encryption(doc: Document) -> Iterator[Hit]:
    if blocks(doc.body, "server_side_encryption_configuration"):
        return
    if not has_companion(doc, "aws_s3_bucket_server_side_encryption_configuration", "bucket"):
        yield at(doc, "bucket has no server-side encryption configuration")


def _bucket_versioning(doc: Document) -> Iterator[Hit]:
    inline = first(doc.body, "versioning", "enabled")
    if is_true(inline) or unknown(inline):
        return
    for item in companions(doc, "aws_s3_bucket_versioning", "bucket"):
        status = first(item.body, "versioning_configuration", "status")
        if status == "Enabled" or unknown(status):
            return
    yield at(doc, "bucket versioning is not enabled", "versioning")


def _bucket_logging(doc: Document) -> Iterator[Hit]:
    if blocks(doc.body, "logging") or has_companion(doc, "aws_s3_bucket_logging", "bucket"):
        return
    yield at(doc, "bucket access logging is not enabled")


def _public_policy(doc: Document) -> Iterator[Hit]:
    for statement in document_statements(doc):
        if allows(statement) and open_principal(statement) and not statement.get("Condition"):
            yield at(doc, "bucket policy allows any principal without a condition", "policy")
            return


def _no_tls_policy(doc: Document) -> Iterator[Hit]:
    for statement in document_statements(doc):
        condition = statement.get("Condition")
        if not allows(statement) and "aws:SecureTransport" in str(condition):
            return
    if doc.body.get("policy") is not None and not unknown(doc.body.get("policy")):
        yield at(doc, "bucket policy does not deny requests without TLS "
                      "(aws:SecureTransport)", "policy")











def _rds_backup(doc: Document) -> Iterator[Hit]:
    if doc.body.get("backup_retention_period") == 0:
        yield at(doc, "automated backups disabled (backup_retention_period = 0)",
                 "backup_retention_period")


def _dynamo_pitr(doc: Document) -> Iterator[Hit]:
    if not is_true(first(doc.body, "point_in_time_recovery", "enabled")):
        yield at(doc, "point-in-time recovery is not enabled", "point_in_time_recovery")


def _sqs_sse(doc: Document) -> Iterator[Hit]:
    if doc.body.get("kms_master_key_id") is None and is_false(
            doc.body.get("sqs_managed_sse_enabled")):
        yield at(doc, "queue encryption is disabled", "sqs_managed_sse_enabled")


def _sns_kms(doc: Document) -> Iterator[Hit]:
    if doc.body.get("kms_master_key_id") is None:
        yield at(doc, "topic is not encrypted with KMS")


def _ecr_scan(doc: Document) -> Iterator[Hit]:
    if not is_true(first(doc.body, "image_scanning_configuration", "scan_on_push")):
        yield at(doc, "images are not scanned on push", "image_scanning_configuration")


def _ecr_mutable(doc: Document) -> Iterator[Hit]:
    if doc.body.get("image_tag_mutability", "MUTABLE") == "MUTABLE":
        yield at(doc, "image tags are mutable", "image_tag_mutability")


def _es_encryption(doc: Document) -> Iterator[Hit]:
    value = first(doc.body, "encrypt_at_rest", "enabled")
    if not is_true(value) and not unknown(value):
        yield at(doc, "domain is not encrypted at rest", "encrypt_at_rest")


def _elasticache_transit(doc: Document) -> Iterator[Hit]:
    value = doc.body.get("transit_encryption_enabled")
    if not is_true(value) and not unknown(value):
        yield at(doc, "in-transit encryption is not enabled", "transit_encryption_enabled")


def _ebs_instance(doc: Document) -> Iterator[Hit]:
    for name in ("root_block_device", "ebs_block_device"):
        for device in blocks(doc.body, name):
            value = device.get("encrypted")
            if not is_true(value) and not unknown(value):
                yield at(doc, f"{name} is not encrypted", name)


def _docs(name: str) -> tuple[str, ...]:
    return (AWS_DOCS + name,)


CHECKS = (
    check("SW-AWS-001", "S3 bucket ACL is public", HIGH, TF, _bucket_acl,
          description="A public-read(-write) or authenticated-read ACL exposes the bucket's "
                      "objects to anyone.",
          remediation="Use the private ACL (or BucketOwnerEnforced ownership) and a public "
                      "access block.", references=_docs("s3_bucket_acl"),
          controls=(aws("2.1.5"),), kinds=(S3,)),
    check("SW-AWS-002", "S3 bucket without public access block", MEDIUM, TF, _no_public_block,
          description="Without a public access block a later ACL or policy change can make the "
                      "bucket public.",
          remediation="Add `aws_s3_bucket_public_access_block` with all four settings true.",
          references=_docs("s3_bucket_public_access_block"), controls=(aws("2.1.5"),),
          kinds=(S3,)),
    check("SW-AWS-003", "S3 public access block incomplete", HIGH, TF, _weak_public_block,
          description="Every setting of the public access block must be true to keep the "
                      "bucket private.",
          remediation="Set block_public_acls, block_public_policy, ignore_public_acls and "
                      "restrict_public_buckets to true.",
          references=_docs("s3_bucket_public_access_block"), controls=(aws("2.1.5"),),
          kinds=("aws_s3_bucket_public_access_block",)),
    check("SW-AWS-004", "S3 bucket not encrypted", MEDIUM, TF, _bucket_encryption,
          description="Objects are not encrypted at rest with a key you control.",
          remediation="Add `aws_s3_bucket_server_side_encryption_configuration` (SSE-KMS).",
          references=_docs("s3_bucket_server_side_encryption_configuration"),
          controls=(aws("2.1.1"),), kinds=(S3,)),
    check("SW-AWS-005", "S3 bucket versioning disabled", MEDIUM, TF, _bucket_versioning,
          description="Without versioning, overwritten or deleted objects cannot be recovered "
                      "(ransomware, mistakes).",
          remediation="Add `aws_s3_bucket_versioning` with status Enabled.",
          references=_docs("s3_bucket_versioning"), kinds=(S3,)),
    check("SW-AWS-006", "S3 bucket access logging disabled", LOW, TF, _bucket_logging,
          description="Without access logs there is no record of who read or changed objects.",
          remediation="Add `aws_s3_bucket_logging` pointing at a log bucket.",
          references=_docs("s3_bucket_logging"), controls=(aws("3.6"),), kinds=(S3,)),
    check("SW-AWS-007", "S3 bucket policy allows anyone", HIGH, TF, _public_policy,
          description="A statement with Principal \"*\" and no condition grants access to "
                      "the whole internet.",
          remediation="Name the principals, or add conditions (source VPC, organisation).",
          references=_docs("s3_bucket_policy"), controls=(aws("2.1.5"),),
          kinds=("aws_s3_bucket_policy",)),
    check("SW-AWS-008", "S3 bucket policy allows plain HTTP", LOW, TF, _no_tls_policy,
          description="Requests over HTTP are not refused.",
          remediation="Add a Deny statement on aws:SecureTransport = false.",
          references=_docs("s3_bucket_policy"), controls=(aws("2.1.2"),),
          kinds=("aws_s3_bucket_policy",)),
    check("SW-AWS-009", "EBS volume not encrypted", MEDIUM, TF,
          attr_not_true("encrypted", "volume is not encrypted"),
          description="Unencrypted volumes and their snapshots expose data at rest.",
          remediation="Set `encrypted = true` (and a KMS key).", references=_docs("ebs_volume"),
          controls=(aws("2.2.1"),), kinds=("aws_ebs_volume",)),
    check("SW-AWS-010", "EC2 block device not encrypted", MEDIUM, TF, _ebs_instance,
          description="Instance root and data volumes are not encrypted at rest.",
          remediation="Set `encrypted = true` in root_block_device and ebs_block_device.",
          references=_docs("instance"), controls=(aws("2.2.1"),),
          kinds=("aws_instance", "aws_launch_configuration")),
    check("SW-AWS-011", "EBS encryption by default disabled", MEDIUM, TF,
          attr_false("enabled", "EBS default encryption is disabled"),
          description="New volumes in the region are not encrypted automatically.",
          remediation="Set `enabled = true`.", references=_docs("ebs_encryption_by_default"),
          controls=(aws("2.2.1"),), kinds=("aws_ebs_encryption_by_default",)),
    check("SW-AWS-012", "RDS storage not encrypted", HIGH, TF,
          attr_not_true("storage_encrypted", "database storage is not encrypted"),
          description="Database files, backups and snapshots are not encrypted at rest.",
          remediation="Set `storage_encrypted = true` (requires re-creating the instance).",
          references=_docs("db_instance"), controls=(aws("2.3.1"),),
          kinds=("aws_db_instance", "aws_rds_cluster")),
    check("SW-AWS-013", "RDS instance publicly accessible", HIGH, TF,
          attr_true("publicly_accessible", "database has a public endpoint"),
          description="A public database endpoint is exposed to internet scanning and "
                      "credential stuffing.",
          remediation="Set `publicly_accessible = false` and reach it from inside the VPC.",
          references=_docs("db_instance"), kinds=("aws_db_instance", "aws_rds_cluster_instance")),
    check("SW-AWS-014", "RDS automated backups disabled", LOW, TF, _rds_backup,
          description="Without backups data cannot be restored after loss or ransomware.",
          remediation="Set `backup_retention_period` to 7 days or more.",
          references=_docs("db_instance"), kinds=("aws_db_instance", "aws_rds_cluster")),
    check("SW-AWS-015", "RDS minor version upgrades disabled", LOW, TF,
          attr_false("auto_minor_version_upgrade", "automatic minor version upgrades are off"),
          description="Security patches in minor versions are not applied.",
          remediation="Set `auto_minor_version_upgrade = true`.",
          references=_docs("db_instance"), controls=(aws("2.3.2"),),
          kinds=("aws_db_instance",)),
    check("SW-AWS-016", "EFS file system not encrypted", MEDIUM, TF,
          attr_not_true("encrypted", "file system is not encrypted"),
          description="File system data is not encrypted at rest.",
          remediation="Set `encrypted = true`.", references=_docs("efs_file_system"),
          controls=(aws("2.4.1"),), kinds=("aws_efs_file_system",)),
    check("SW-AWS-017", "DynamoDB point-in-time recovery disabled", LOW, TF, _dynamo_pitr,
          description="Tables cannot be restored to a point before corruption or deletion.",
          remediation="Add `point_in_time_recovery { enabled = true }`.",
          references=_docs("dynamodb_table"), kinds=("aws_dynamodb_table",)),
    check("SW-AWS-018", "SQS queue encryption disabled", LOW, TF, _sqs_sse,
          description="Messages are stored unencrypted.",
          remediation="Remove `sqs_managed_sse_enabled = false` or set a KMS key.",
          references=_docs("sqs_queue"), kinds=("aws_sqs_queue",)),
    check("SW-AWS-019", "SNS topic not encrypted with KMS", LOW, TF, _sns_kms,
          description="Messages are stored without a customer-managed key.",
          remediation="Set `kms_master_key_id`.", references=_docs("sns_topic"),
          kinds=("aws_sns_topic",)),
    check("SW-AWS-020", "ECR scan on push disabled", LOW, TF, _ecr_scan,
          description="Pushed images are not scanned for known vulnerabilities.",
          remediation="Add `image_scanning_configuration { scan_on_push = true }`.",
          references=_docs("ecr_repository"), kinds=("aws_ecr_repository",)),
    check("SW-AWS-021", "ECR image tags mutable", LOW, TF, _ecr_mutable,
          description="A mutable tag can be overwritten with a different image.",
          remediation="Set `image_tag_mutability = \"IMMUTABLE\"`.",
          references=_docs("ecr_repository"), kinds=("aws_ecr_repository",)),
    check("SW-AWS-022", "OpenSearch domain not encrypted at rest", MEDIUM, TF, _es_encryption,
          description="Indexes and snapshots are stored unencrypted.",
          remediation="Add `encrypt_at_rest { enabled = true }`.",
          references=_docs("opensearch_domain"),
          kinds=("aws_elasticsearch_domain", "aws_opensearch_domain")),
    check("SW-AWS-023", "Redshift cluster publicly accessible", HIGH, TF,
          attr_true("publicly_accessible", "cluster has a public endpoint"),
          description="A public warehouse endpoint is exposed to the internet.",
          remediation="Set `publicly_accessible = false`.",
          references=_docs("redshift_cluster"), kinds=("aws_redshift_cluster",)),
    check("SW-AWS-024", "ElastiCache without in-transit encryption", MEDIUM, TF,
          _elasticache_transit,
          description="Cache traffic, including credentials, is sent in clear text.",
          remediation="Set `transit_encryption_enabled = true`.",
          references=_docs("elasticache_replication_group"),
          kinds=("aws_elasticache_replication_group",)),
    check("SW-AWS-025", "Redshift cluster not encrypted", MEDIUM, TF,
          attr_not_true("encrypted", "cluster storage is not encrypted"),
          description="Warehouse data is stored unencrypted.",
          remediation="Set `encrypted = true`.", references=_docs("redshift_cluster"),
          kinds=("aws_redshift_cluster",)),
)
