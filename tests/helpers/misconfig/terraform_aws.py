"""Terraform AWS plants: clean resources (with companions) and one change per check."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers.misconfig import Mutation, Plant
from tests.helpers.misconfig.hcl import DELETE, KIND, Block, Raw, body, resource, tf_plant

__all__ = ["KIND", "PLANTS", "bucket_unit"]
KMS = Raw("aws_kms_key.main.arn")


def jsonencode(obj: Any) -> Raw:
    """`jsonencode({...})` of a Python object."""
    from tests.helpers.misconfig.hcl import value

    return Raw(f"jsonencode({value(obj, 1)})")


def heredoc(obj: Any) -> Raw:
    """A heredoc JSON document."""
    return Raw("<<EOF\n" + json.dumps(obj, indent=2) + "\nEOF")


def bucket_unit(name: str, skip: tuple[str, ...] = (), bucket: dict[str, Any] | None = None,
                block: dict[str, Any] | None = None, literal_ref: bool = False) -> str:
    """A bucket with its public access block, encryption, versioning and logging."""
    ref = f'"shop-{name}"' if literal_ref else f"aws_s3_bucket.{name}.id"
    parts = [resource("aws_s3_bucket", name, {"bucket": f"shop-{name}", **(bucket or {})})]
    companions = {
        "public_access_block": ("aws_s3_bucket_public_access_block", {
            "block_public_acls": True, "block_public_policy": True, "ignore_public_acls": True,
            "restrict_public_buckets": True, **(block or {})}),
        "encryption": ("aws_s3_bucket_server_side_encryption_configuration", {
            "rule": Block(apply_server_side_encryption_by_default=Block(
                sse_algorithm="aws:kms", kms_master_key_id=KMS))}),
        "versioning": ("aws_s3_bucket_versioning", {
            "versioning_configuration": Block(status="Enabled")}),
        "logging": ("aws_s3_bucket_logging", {"target_bucket": "shop-logs",
                                              "target_prefix": f"{name}/"}),
    }
    for key, (rtype, attrs) in companions.items():
        if key not in skip:
            text = body({k: v for k, v in attrs.items() if v is not DELETE})
            parts.append(f'resource "{rtype}" "{name}" {{\n  bucket = {ref}\n{text}}}\n')
    return "\n".join(parts)


def _bucket_plant(check_id: str, bad: dict[str, Any], good: dict[str, Any],
                  kind: str = "aws_s3_bucket") -> Plant:
    def make(options: dict[str, Any]) -> Mutation:
        def run(model: list[str], n: int) -> str:
            model.append(bucket_unit(f"b{n}", **options))
            return f"{kind}.b{n}"
        return run
    return Plant(check_id, "terraform", make(bad), make(good))


DENY_HTTP = {"Sid": "DenyHTTP", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": ["arn:aws:s3:::shop-data", "arn:aws:s3:::shop-data/*"],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def _bucket_policy(principal: Any, deny: bool = True) -> dict[str, Any]:
    allow = {"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::shop-data/*"}
    return {"bucket": Raw("aws_s3_bucket.base.id"), "policy": jsonencode(
        {"Version": "2012-10-17", "Statement": [DENY_HTTP, allow] if deny else [allow]})}


ACCOUNT = {"AWS": "arn:aws:iam::123456789012:root"}


def _sg(port: int, cidr: str, protocol: str = "tcp") -> dict[str, Any]:
    rule = Block(from_port=port, to_port=port, protocol=protocol, cidr_blocks=[cidr])
    return {"name": "web", "vpc_id": Raw("var.vpc_id"), "ingress": [rule],
            "egress": [Block(from_port=0, to_port=0, protocol="-1", cidr_blocks=["0.0.0.0/0"])]}


def _sg_rule(port: int, cidr: str) -> dict[str, Any]:
    return {"type": "ingress", "from_port": port, "to_port": port, "protocol": "tcp",
            "cidr_blocks": [cidr], "security_group_id": Raw("aws_security_group.web.id")}


def _vpc_rule(port: int, cidr: str) -> dict[str, Any]:
    return {"security_group_id": Raw("aws_security_group.web.id"), "cidr_ipv4": cidr,
            "from_port": port, "to_port": port, "ip_protocol": "tcp"}


INSTANCE = {"ami": "ami-0123456789abcdef0", "instance_type": "t3.micro",
            "metadata_options": Block(http_tokens="required", http_endpoint="enabled"),
            "root_block_device": Block(encrypted=True, kms_key_id=KMS)}
DB = {"engine": "postgres", "instance_class": "db.t3.micro", "allocated_storage": 20,
      "storage_encrypted": True, "publicly_accessible": False, "backup_retention_period": 7,
      "username": "shop", "manage_master_user_password": True}
TRAIL = {"name": "main", "s3_bucket_name": "shop-trail", "is_multi_region_trail": True,
         "enable_log_file_validation": True, "kms_key_id": KMS,
         "cloud_watch_logs_group_arn": Raw("aws_cloudwatch_log_group.trail.arn"),
         "cloud_watch_logs_role_arn": Raw("aws_iam_role.trail.arn")}
PASSWORDS = {"minimum_password_length": 14, "password_reuse_prevention": 24,
             "require_symbols": True, "require_numbers": True}
LISTENER = {"load_balancer_arn": Raw("aws_lb.web.arn"), "port": 443, "protocol": "HTTPS",
            "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
            "certificate_arn": Raw("aws_acm_certificate.web.arn"),
            "default_action": Block(type="forward", target_group_arn=Raw("aws_lb_target_group"
                                                                         ".web.arn"))}
REDIRECT = Block(type="redirect", redirect=Block(port="443", protocol="HTTPS",
                                                 status_code="HTTP_301"))
EKS = {"name": "shop", "role_arn": Raw("aws_iam_role.eks.arn"),
       "enabled_cluster_log_types": ["api", "audit"],
       "vpc_config": Block(subnet_ids=Raw("var.subnets"), endpoint_public_access=False)}
LAMBDA = {"function_name": "shop", "role": Raw("aws_iam_role.fn.arn"), "handler": "main.handler",
          "runtime": "python3.12", "filename": "fn.zip",
          "environment": Block(variables={"LOG_LEVEL": "info"})}
CLOUDFRONT = {"enabled": True, "default_cache_behavior": Block(
    target_origin_id="web", viewer_protocol_policy="redirect-to-https",
    allowed_methods=["GET", "HEAD"], cached_methods=["GET", "HEAD"])}


def _cf(policy: str) -> dict[str, Any]:
    return {**CLOUDFRONT, "default_cache_behavior": Block(
        target_origin_id="web", viewer_protocol_policy=policy, allowed_methods=["GET", "HEAD"],
        cached_methods=["GET", "HEAD"])}


def _provider_plant() -> Plant:
    def make(attrs: dict[str, Any]) -> Mutation:
        def run(model: list[str], n: int) -> str:
            model.append(f'provider "aws" {{\n  alias = "p{n}"\n{body(attrs)}}}\n')
            return "provider.aws"
        return run
    return Plant("SW-AWS-049", "terraform",
                 make({"region": "eu-west-1", "access_key": "AKIAIOSFODNN7EXAMPLE",
                       "secret_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}),
                 make({"region": "eu-west-1", "profile": "prod"}))


def _user_policy_plant() -> Plant:
    def make(rtype: str, attrs: dict[str, Any]) -> Mutation:
        def run(model: list[str], n: int) -> str:
            model.append(resource(rtype, f"r{n}", attrs))
            return f"{rtype}.r{n}"
        return run
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    return Plant("SW-AWS-038", "terraform",
                 make("aws_iam_user_policy_attachment", {"user": "alice", "policy_arn": arn}),
                 make("aws_iam_group_policy_attachment", {"group": "readers",
                                                          "policy_arn": arn}))


def _vpc_plant() -> Plant:
    def make(flow_log: bool) -> Mutation:
        def run(model: list[str], n: int) -> str:
            model.append(resource("aws_vpc", f"r{n}", {"cidr_block": "10.0.0.0/16"}))
            if flow_log:
                model.append(resource("aws_flow_log", f"r{n}", {
                    "vpc_id": Raw(f"aws_vpc.r{n}.id"), "traffic_type": "ALL",
                    "log_destination": Raw("aws_cloudwatch_log_group.flow.arn")}))
            return f"aws_vpc.r{n}"
        return run
    return Plant("SW-AWS-048", "terraform", make(False), make(True))


def _doc(statement: dict[str, Any]) -> dict[str, Any]:
    return {"statement": Block(**statement)}


PLANTS = [
    _bucket_plant("SW-AWS-001", {"bucket": {"acl": "public-read"}},
                  {"bucket": {"acl": "private"}}),
    _bucket_plant("SW-AWS-002", {"skip": ("public_access_block",)}, {"literal_ref": True}),
    _bucket_plant("SW-AWS-003", {"block": {"block_public_policy": False}},
                  {"block": {"block_public_policy": True}},
                  kind="aws_s3_bucket_public_access_block"),
    _bucket_plant("SW-AWS-004", {"skip": ("encryption",)}, {"skip": ("encryption",), "bucket": {
        "server_side_encryption_configuration": Block(rule=Block(
            apply_server_side_encryption_by_default=Block(sse_algorithm="AES256")))}}),
    _bucket_plant("SW-AWS-005", {"skip": ("versioning",)},
                  {"skip": ("versioning",), "bucket": {"versioning": Block(enabled=True)}}),
    _bucket_plant("SW-AWS-006", {"skip": ("logging",)}, {"skip": ("logging",), "bucket": {
        "logging": Block(target_bucket="shop-logs")}}),
    tf_plant("SW-AWS-007", "aws_s3_bucket_policy", _bucket_policy(ACCOUNT),
             {"policy": _bucket_policy("*")["policy"]}, {}),
    tf_plant("SW-AWS-008", "aws_s3_bucket_policy", _bucket_policy(ACCOUNT),
             {"policy": _bucket_policy(ACCOUNT, deny=False)["policy"]}, {}),
    tf_plant("SW-AWS-009", "aws_ebs_volume", {"availability_zone": "eu-west-1a", "size": 10,
                                              "encrypted": True, "kms_key_id": KMS},
             {"encrypted": False}, {"type": "gp3"}),
    tf_plant("SW-AWS-010", "aws_instance", INSTANCE,
             {"root_block_device": Block(encrypted=False)},
             {"root_block_device": Block(encrypted=True, volume_size=20)}),
    tf_plant("SW-AWS-011", "aws_ebs_encryption_by_default", {"enabled": True},
             {"enabled": False}, {}),
    tf_plant("SW-AWS-012", "aws_db_instance", DB, {"storage_encrypted": False},
             {"kms_key_id": KMS}),
    tf_plant("SW-AWS-013", "aws_db_instance", DB, {"publicly_accessible": True}, {}),
    tf_plant("SW-AWS-014", "aws_db_instance", DB, {"backup_retention_period": 0},
             {"backup_retention_period": 1}),
    tf_plant("SW-AWS-015", "aws_db_instance", DB, {"auto_minor_version_upgrade": False},
             {"auto_minor_version_upgrade": True}),
    tf_plant("SW-AWS-016", "aws_efs_file_system", {"encrypted": True},
             {"encrypted": False}, {"kms_key_id": KMS}),
    tf_plant("SW-AWS-017", "aws_dynamodb_table", {
        "name": "orders", "hash_key": "id", "billing_mode": "PAY_PER_REQUEST",
        "attribute": Block(name="id", type="S"),
        "point_in_time_recovery": Block(enabled=True)},
        {"point_in_time_recovery": Block(enabled=False)}, {}),
    tf_plant("SW-AWS-018", "aws_sqs_queue", {"name": "orders"},
             {"sqs_managed_sse_enabled": False}, {"sqs_managed_sse_enabled": True}),
    tf_plant("SW-AWS-019", "aws_sns_topic", {"name": "events", "kms_master_key_id": KMS},
             {"kms_master_key_id": DELETE}, {"kms_master_key_id": "alias/aws/sns"}),
    tf_plant("SW-AWS-020", "aws_ecr_repository", {
        "name": "shop", "image_tag_mutability": "IMMUTABLE",
        "image_scanning_configuration": Block(scan_on_push=True)},
        {"image_scanning_configuration": Block(scan_on_push=False)}, {}),
    tf_plant("SW-AWS-021", "aws_ecr_repository", {
        "name": "shop", "image_tag_mutability": "IMMUTABLE",
        "image_scanning_configuration": Block(scan_on_push=True)},
        {"image_tag_mutability": "MUTABLE"}, {}),
    tf_plant("SW-AWS-022", "aws_opensearch_domain", {
        "domain_name": "logs", "encrypt_at_rest": Block(enabled=True)},
        {"encrypt_at_rest": Block(enabled=False)}, {}),
    tf_plant("SW-AWS-023", "aws_redshift_cluster", {
        "cluster_identifier": "dw", "node_type": "ra3.xlplus", "encrypted": True,
        "publicly_accessible": False}, {"publicly_accessible": True}, {}),
    tf_plant("SW-AWS-024", "aws_elasticache_replication_group", {
        "replication_group_id": "cache", "description": "cache",
        "transit_encryption_enabled": True}, {"transit_encryption_enabled": False}, {}),
    tf_plant("SW-AWS-025", "aws_redshift_cluster", {
        "cluster_identifier": "dw", "node_type": "ra3.xlplus", "encrypted": True,
        "publicly_accessible": False}, {"encrypted": False}, {"kms_key_id": KMS}),
    tf_plant("SW-AWS-030", "aws_security_group", _sg(443, "10.0.0.0/8"),
             _sg(22, "0.0.0.0/0"), _sg(22, "10.0.0.0/8")),
    tf_plant("SW-AWS-031", "aws_security_group_rule", _sg_rule(443, "10.0.0.0/8"),
             _sg_rule(3389, "0.0.0.0/0"), _sg_rule(3389, "192.168.0.0/16")),
    tf_plant("SW-AWS-032", "aws_security_group", _sg(443, "10.0.0.0/8"),
             _sg(0, "0.0.0.0/0", "-1"), _sg(443, "0.0.0.0/0")),
    tf_plant("SW-AWS-033", "aws_vpc_security_group_ingress_rule", _vpc_rule(443, "10.0.0.0/8"),
             _vpc_rule(5432, "0.0.0.0/0"), _vpc_rule(5432, "10.0.0.0/16")),
    tf_plant("SW-AWS-034", "aws_default_security_group", {"vpc_id": Raw("var.vpc_id")},
             {"ingress": Block(protocol="-1", self=True, from_port=0, to_port=0)},
             {"tags": {"Name": "default-locked"}}),
    tf_plant("SW-AWS-035", "aws_network_acl_rule", {
        "network_acl_id": Raw("aws_network_acl.main.id"), "rule_number": 100, "egress": False,
        "protocol": "tcp", "rule_action": "allow", "cidr_block": "10.0.0.0/8",
        "from_port": 22, "to_port": 22},
        {"cidr_block": "0.0.0.0/0"}, {"cidr_block": "0.0.0.0/0", "rule_action": "deny"}),
    tf_plant("SW-AWS-036", "aws_iam_policy", {"name": "ops", "policy": heredoc({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                "Resource": "*"}]})},
        {"policy": heredoc({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"}]})}, {}),
    tf_plant("SW-AWS-037", "aws_iam_policy_document", _doc(
        {"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::shop/*"]}),
        _doc({"actions": ["s3:*"], "resources": ["*"]}),
        _doc({"actions": ["s3:GetObject"], "resources": ["*"]}), block="data"),
    _user_policy_plant(),
    tf_plant("SW-AWS-039", "aws_iam_role", {"name": "app", "assume_role_policy": jsonencode({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "ec2.amazonaws.com"}}]})},
        {"assume_role_policy": jsonencode({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "*"}}]})}, {}),
    tf_plant("SW-AWS-040", "aws_iam_account_password_policy", PASSWORDS,
             {"minimum_password_length": 8}, {"minimum_password_length": 16}),
    tf_plant("SW-AWS-041", "aws_iam_account_password_policy", PASSWORDS,
             {"password_reuse_prevention": 5}, {"password_reuse_prevention": 24}),
    tf_plant("SW-AWS-042", "aws_cloudtrail", TRAIL, {"is_multi_region_trail": False},
             {"include_global_service_events": True}),
    tf_plant("SW-AWS-043", "aws_cloudtrail", TRAIL, {"enable_log_file_validation": False}, {}),
    tf_plant("SW-AWS-044", "aws_cloudtrail", TRAIL, {"kms_key_id": DELETE},
             {"kms_key_id": "arn:aws:kms:eu-west-1:123456789012:key/abcd"}),
    tf_plant("SW-AWS-045", "aws_cloudtrail", TRAIL, {"enable_logging": False},
             {"enable_logging": True}),
    tf_plant("SW-AWS-046", "aws_cloudtrail", TRAIL, {"cloud_watch_logs_group_arn": DELETE}, {}),
    tf_plant("SW-AWS-047", "aws_kms_key", {"description": "data", "enable_key_rotation": True},
             {"enable_key_rotation": False}, {"deletion_window_in_days": 30}),
    _vpc_plant(),
    _provider_plant(),
    tf_plant("SW-AWS-050", "aws_lb_listener", LISTENER,
             {"port": 80, "protocol": "HTTP", "ssl_policy": DELETE, "certificate_arn": DELETE},
             {"port": 80, "protocol": "HTTP", "ssl_policy": DELETE, "certificate_arn": DELETE,
              "default_action": REDIRECT}),
    tf_plant("SW-AWS-051", "aws_lb_listener", LISTENER,
             {"ssl_policy": "ELBSecurityPolicy-2016-08"},
             {"ssl_policy": "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"}),
    tf_plant("SW-AWS-052", "aws_eks_cluster", EKS,
             {"vpc_config": Block(subnet_ids=Raw("var.subnets"), endpoint_public_access=True)},
             {"vpc_config": Block(subnet_ids=Raw("var.subnets"), endpoint_public_access=True,
                                  public_access_cidrs=["203.0.113.0/24"])}),
    tf_plant("SW-AWS-053", "aws_eks_cluster", EKS, {"enabled_cluster_log_types": DELETE},
             {"enabled_cluster_log_types": ["audit"]}),
    tf_plant("SW-AWS-054", "aws_lambda_function", LAMBDA,
             {"environment": Block(variables={"DB_PASSWORD": "Sup3rS3cret!"})},
             {"environment": Block(variables={
                 "DB_PASSWORD_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:db"})}),
    tf_plant("SW-AWS-055", "aws_cloudfront_distribution", CLOUDFRONT, _cf("allow-all"),
             _cf("https-only")),
    tf_plant("SW-AWS-056", "aws_instance", INSTANCE,
             {"metadata_options": Block(http_tokens="optional")},
             {"metadata_options": Block(http_tokens="required",
                                        http_put_response_hop_limit=1)}),
    tf_plant("SW-AWS-057", "aws_instance", INSTANCE, {"associate_public_ip_address": True},
             {"associate_public_ip_address": False}),
    tf_plant("SW-AWS-058", "aws_instance", INSTANCE,
             {"user_data": "#!/bin/sh\nexport AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n"},
             {"user_data": "#!/bin/sh\nexport AWS_REGION=eu-west-1\n"}),
    tf_plant("SW-AWS-059", "aws_config_configuration_recorder", {
        "name": "main", "role_arn": Raw("aws_iam_role.config.arn"),
        "recording_group": Block(all_supported=True, include_global_resource_types=True)},
        {"recording_group": Block(all_supported=False)},
        {"recording_group": Block(all_supported=True)}),
]
