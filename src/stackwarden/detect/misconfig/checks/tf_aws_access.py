"""Terraform AWS access and logging: security groups, network ACLs, IAM, CloudTrail, KMS,
flow logs, credentials, load balancers, EKS, Lambda, CloudFront, EC2 metadata."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from stackwarden.detect.misconfig.checks import CRITICAL, HIGH, LOW, MEDIUM, check
from stackwarden.detect.misconfig.checks.tf_common import (
    AWS_DOCS,
    TF,
    allows,
    at,
    attr_missing,
    attr_not_true,
    blocks,
    document_statements,
    first,
    has_companion,
    open_principal,
    strings,
)
from stackwarden.detect.misconfig.checks.util import (
    as_list,
    covers,
    hit,
    is_false,
    is_open_cidr,
    is_true,
    looks_like_token,
    port_range,
    secret_assignment,
    unknown,
)
from stackwarden.detect.misconfig.controls import aws
from stackwarden.detect.misconfig.model import Document, Hit, TestFunc

SG_KINDS = ("aws_security_group", "aws_security_group_rule",
            "aws_vpc_security_group_ingress_rule")
POLICY_KINDS = ("aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy",
                "aws_iam_group_policy", "data.aws_iam_policy_document")
DB_PORTS = (3306, 5432, 1433, 1521, 27017, 6379, 9200, 5601, 11211, 9042, 5984)
OLD_TLS = ("ELBSecurityPolicy-2015-05", "ELBSecurityPolicy-2016-08", "ELBSecurityPolicy-TLS-1-0",
           "ELBSecurityPolicy-TLS-1-1", "ELBSecurityPolicy-TLS13-1-0", "ELBSecurityPolicy-TLS13-1-1")


def _ingress(doc: Document) -> Iterator[tuple[Any, Any, list[Any], tuple[int, int] | None]]:
    """(node, key, sources, ports) for each ingress rule of a security group resource."""
    body = doc.body
    if doc.kind == "aws_security_group":
        for index, rule in enumerate(as_list(body.get("ingress"))):
            if isinstance(rule, dict):
                yield body["ingress"], index, _sources(rule), _ports(rule, "protocol")
    elif doc.kind == "aws_security_group_rule":
        if body.get("type") == "ingress":
            yield body, None, _sources(body), _ports(body, "protocol")
    else:
        sources = [body.get("cidr_ipv4"), body.get("cidr_ipv6")]
        yield body, None, sources, _ports(body, "ip_protocol")


def _sources(rule: dict[str, Any]) -> list[Any]:
    return as_list(rule.get("cidr_blocks")) + as_list(rule.get("ipv6_cidr_blocks"))


def _ports(rule: dict[str, Any], protocol_key: str) -> tuple[int, int] | None:
    if str(rule.get(protocol_key, "")).lower() in ("-1", "all"):
        return 0, 65535
    return port_range(rule.get("from_port"), rule.get("to_port"))


def _open_port(port: int | None, label: str) -> TestFunc:
    def test(doc: Document) -> Iterator[Hit]:
        for node, key, sources, ports in _ingress(doc):
            if not any(is_open_cidr(s) for s in sources):
                continue
            if (port is None and ports == (0, 65535)) or (port is not None and covers(ports, port)
                                                          and ports != (0, 65535)):
                yield hit(f"ingress from the internet to {label}", node, key, f"rule:{key}")
    return test


def _open_db(doc: Document) -> Iterator[Hit]:
    for node, key, sources, ports in _ingress(doc):
        if any(is_open_cidr(s) for s in sources) and ports != (0, 65535) and \
                any(covers(ports, p) for p in DB_PORTS):
            yield hit("ingress from the internet to a database port", node, key, f"rule:{key}")


def _default_sg(doc: Document) -> Iterator[Hit]:
    for key in ("ingress", "egress"):
        if blocks(doc.body, key):
            yield at(doc, f"default security group has {key} rules", key)


def _nacl(doc: Document) -> Iterator[Hit]:
    body = doc.body
    if is_true(body.get("egress")) or str(body.get("rule_action", "")).lower() != "allow":
        return
    if not (is_open_cidr(body.get("cidr_block")) or is_open_cidr(body.get("ipv6_cidr_block"))):
        return
    ports = (0, 65535) if str(body.get("protocol")) in ("-1", "all") else \
        port_range(body.get("from_port"), body.get("to_port"))
    if covers(ports, 22) or covers(ports, 3389):
        yield at(doc, "network ACL allows SSH/RDP from the internet", "cidr_block")


def _admin_policy(doc: Document) -> Iterator[Hit]:
    for statement in document_statements(doc):
        if allows(statement) and "*" in strings(statement.get("Action")) and \
                "*" in strings(statement.get("Resource")):
            yield at(doc, "policy allows every action on every resource (\"*:*\")", "policy")
            return


def _service_wildcard(doc: Document) -> Iterator[Hit]:
    for statement in document_statements(doc):
        actions = [a for a in strings(statement.get("Action")) if a.endswith(":*")]
        if allows(statement) and actions and "*" in strings(statement.get("Resource")):
            yield at(doc, f"policy allows {', '.join(sorted(actions))} on every resource",
                     "policy")
            return


def _open_trust(doc: Document) -> Iterator[Hit]:
    for statement in document_statements(doc):
        if allows(statement) and open_principal(statement) and not statement.get("Condition"):
            yield at(doc, "role can be assumed by any AWS principal", "assume_role_policy")
            return


def _password_length(doc: Document) -> Iterator[Hit]:
    length = doc.body.get("minimum_password_length", 6)
    if isinstance(length, int) and length < 14:
        yield at(doc, f"minimum password length is {length}", "minimum_password_length")


def _password_reuse(doc: Document) -> Iterator[Hit]:
    reuse = doc.body.get("password_reuse_prevention")
    if reuse is None or (isinstance(reuse, int) and reuse < 24):
        yield at(doc, "password reuse prevention is below 24", "password_reuse_prevention")








def _trail_off(doc: Document) -> Iterator[Hit]:
    if is_false(doc.body.get("enable_logging")):
        yield at(doc, "trail logging is turned off", "enable_logging")


def _kms_rotation(doc: Document) -> Iterator[Hit]:
    spec = doc.body.get("customer_master_key_spec", "SYMMETRIC_DEFAULT")
    value = doc.body.get("enable_key_rotation")
    if spec == "SYMMETRIC_DEFAULT" and not is_true(value) and not unknown(value):
        yield at(doc, "key rotation is not enabled", "enable_key_rotation")


def _vpc_flow_logs(doc: Document) -> Iterator[Hit]:
    if not has_companion(doc, "aws_flow_log", "vpc_id"):
        yield at(doc, "VPC has no flow log")


def _provider_keys(doc: Document) -> Iterator[Hit]:
    for key in ("access_key", "secret_key", "token"):
        value = doc.body.get(key)
        if secret_assignment("SECRET_KEY", value) or looks_like_token(value):
            yield at(doc, f"provider {key} is written in the configuration", key)


def _http_listener(doc: Document) -> Iterator[Hit]:
    if str(doc.body.get("protocol", "")).upper() != "HTTP":
        return
    actions = blocks(doc.body, "default_action")
    if not any(a.get("type") == "redirect" and
               str(first(a, "redirect", "protocol")).upper() == "HTTPS" for a in actions):
        yield at(doc, "listener serves plain HTTP without redirecting to HTTPS", "protocol")


def _old_tls(doc: Document) -> Iterator[Hit]:
    if doc.body.get("ssl_policy") in OLD_TLS:
        yield at(doc, f"listener allows old TLS versions ({doc.body['ssl_policy']})",
                 "ssl_policy")


def _eks_public(doc: Document) -> Iterator[Hit]:
    vpc = first(doc.body, "vpc_config") or {}
    if not isinstance(vpc, dict) or is_false(vpc.get("endpoint_public_access")):
        return
    cidrs = vpc.get("public_access_cidrs")
    if cidrs is None or any(is_open_cidr(c) for c in as_list(cidrs)):
        yield at(doc, "the cluster API endpoint is public to any address", "vpc_config")


def _eks_logging(doc: Document) -> Iterator[Hit]:
    if not as_list(doc.body.get("enabled_cluster_log_types")):
        yield at(doc, "control plane logging is not enabled", "enabled_cluster_log_types")


def _lambda_env(doc: Document) -> Iterator[Hit]:
    variables = first(doc.body, "environment", "variables")
    if isinstance(variables, dict):
        for name, value in variables.items():
            if secret_assignment(name, value):
                yield hit(f"environment variable {name} holds a credential", variables, name,
                          f"env:{name}")


def _cloudfront_http(doc: Document) -> Iterator[Hit]:
    behaviours = blocks(doc.body, "default_cache_behavior") + \
        blocks(doc.body, "ordered_cache_behavior")
    if any(b.get("viewer_protocol_policy") == "allow-all" for b in behaviours):
        yield at(doc, "viewers may use plain HTTP (viewer_protocol_policy allow-all)",
                 "default_cache_behavior")


def _imdsv1(doc: Document) -> Iterator[Hit]:
    tokens = first(doc.body, "metadata_options", "http_tokens")
    if tokens != "required" and not unknown(tokens):
        yield at(doc, "instance metadata service v1 is allowed (http_tokens is not "
                      "\"required\")", "metadata_options")


def _user_data(doc: Document) -> Iterator[Hit]:
    data = doc.body.get("user_data")
    if isinstance(data, str) and looks_like_token(data):
        yield at(doc, "user_data contains a credential", "user_data")


def _public_ip(doc: Document) -> Iterator[Hit]:
    if is_true(doc.body.get("associate_public_ip_address")):
        yield at(doc, "instance has a public IP address", "associate_public_ip_address")


def _user_policy(doc: Document) -> Iterator[Hit]:
    yield at(doc, "policy is attached directly to a user")


def _config_recorder(doc: Document) -> Iterator[Hit]:
    group = first(doc.body, "recording_group")
    if isinstance(group, dict) and is_false(group.get("all_supported")):
        yield at(doc, "AWS Config does not record all supported resources", "recording_group")


def _docs(name: str) -> tuple[str, ...]:
    return (AWS_DOCS + name,)


CHECKS = (
    check("SW-AWS-030", "Security group allows SSH from the internet", HIGH, TF,
          _open_port(22, "SSH (22)"),
          description="Port 22 open to 0.0.0.0/0 invites brute force and exploitation.",
          remediation="Restrict the source to known ranges or use SSM Session Manager.",
          references=_docs("security_group"), controls=(aws("5.2"),), kinds=SG_KINDS),
    check("SW-AWS-031", "Security group allows RDP from the internet", HIGH, TF,
          _open_port(3389, "RDP (3389)"),
          description="Port 3389 open to 0.0.0.0/0 invites brute force and exploitation.",
          remediation="Restrict the source to known ranges or use a bastion/VPN.",
          references=_docs("security_group"), controls=(aws("5.2"),), kinds=SG_KINDS),
    check("SW-AWS-032", "Security group allows all ports from the internet", CRITICAL, TF,
          _open_port(None, "every port"),
          description="Every port of the attached resources is reachable from anywhere.",
          remediation="Open only the ports the service needs, to the sources that need them.",
          references=_docs("security_group"), controls=(aws("5.2"),), kinds=SG_KINDS),
    check("SW-AWS-033", "Security group exposes a database port", HIGH, TF, _open_db,
          description="Database ports open to the internet are scanned and attacked "
                      "continuously.",
          remediation="Allow database ports from application security groups only.",
          references=_docs("security_group"), kinds=SG_KINDS),
    check("SW-AWS-034", "Default security group has rules", LOW, TF, _default_sg,
          description="Resources that get the default group by accident inherit its rules.",
          remediation="Leave `aws_default_security_group` without ingress and egress rules.",
          references=_docs("default_security_group"), controls=(aws("5.3"),),
          kinds=("aws_default_security_group",)),
    check("SW-AWS-035", "Network ACL allows SSH/RDP from the internet", MEDIUM, TF, _nacl,
          description="Subnet-level rules admit remote administration from anywhere.",
          remediation="Deny or narrow ingress to ports 22 and 3389.",
          references=_docs("network_acl_rule"), controls=(aws("5.1"),),
          kinds=("aws_network_acl_rule",)),
    check("SW-AWS-036", "IAM policy grants full administrative access", CRITICAL, TF,
          _admin_policy,
          description="Action \"*\" on Resource \"*\" is full control of the account.",
          remediation="Grant the actions and resources the role needs.",
          references=_docs("iam_policy"), controls=(aws("1.16"),), kinds=POLICY_KINDS),
    check("SW-AWS-037", "IAM policy grants a whole service on every resource", MEDIUM, TF,
          _service_wildcard,
          description="`service:*` on `*` grants every present and future action of the "
                      "service.",
          remediation="List the actions needed.", references=_docs("iam_policy"),
          controls=(aws("1.16"),), kinds=POLICY_KINDS),
    check("SW-AWS-038", "IAM policy attached to a user", LOW, TF,
          _user_policy,
          description="Policies on users are hard to audit; groups and roles scale.",
          remediation="Attach policies to groups or roles.",
          references=_docs("iam_user_policy"), controls=(aws("1.15"),),
          kinds=("aws_iam_user_policy", "aws_iam_user_policy_attachment")),
    check("SW-AWS-039", "IAM role assumable by anyone", HIGH, TF, _open_trust,
          description="A trust policy with Principal \"*\" lets any AWS account assume the "
                      "role.", remediation="Name the trusted principals or add conditions.",
          references=_docs("iam_role"), kinds=("aws_iam_role",)),
    check("SW-AWS-040", "Weak IAM password length", MEDIUM, TF, _password_length,
          description="Passwords shorter than 14 characters are allowed.",
          remediation="Set `minimum_password_length = 14` or more.",
          references=_docs("iam_account_password_policy"), controls=(aws("1.8"),),
          kinds=("aws_iam_account_password_policy",)),
    check("SW-AWS-041", "IAM password reuse allowed", LOW, TF, _password_reuse,
          description="Users may cycle back to old passwords.",
          remediation="Set `password_reuse_prevention = 24`.",
          references=_docs("iam_account_password_policy"), controls=(aws("1.9"),),
          kinds=("aws_iam_account_password_policy",)),
    check("SW-AWS-042", "CloudTrail not multi-region", MEDIUM, TF,
          attr_not_true("is_multi_region_trail", "trail records one region only"),
          description="Activity in other regions goes unrecorded.",
          remediation="Set `is_multi_region_trail = true`.", references=_docs("cloudtrail"),
          controls=(aws("3.1"),), kinds=("aws_cloudtrail",)),
    check("SW-AWS-043", "CloudTrail log validation disabled", MEDIUM, TF,
          attr_not_true("enable_log_file_validation", "log file validation is off"),
          description="Tampering with delivered log files cannot be detected.",
          remediation="Set `enable_log_file_validation = true`.",
          references=_docs("cloudtrail"), controls=(aws("3.2"),), kinds=("aws_cloudtrail",)),
    check("SW-AWS-044", "CloudTrail not encrypted with KMS", MEDIUM, TF,
          attr_missing("kms_key_id", "trail logs are not encrypted with a KMS key"),
          description="Logs are readable by anyone with access to the bucket.",
          remediation="Set `kms_key_id`.", references=_docs("cloudtrail"),
          controls=(aws("3.7"),), kinds=("aws_cloudtrail",)),
    check("SW-AWS-045", "CloudTrail logging disabled", HIGH, TF, _trail_off,
          description="The trail exists but records nothing.",
          remediation="Remove `enable_logging = false`.", references=_docs("cloudtrail"),
          controls=(aws("3.1"),), kinds=("aws_cloudtrail",)),
    check("SW-AWS-046", "CloudTrail not sent to CloudWatch Logs", LOW, TF,
          attr_missing("cloud_watch_logs_group_arn", "trail is not integrated with CloudWatch Logs"),
          description="Without CloudWatch there are no real-time alarms on API activity.",
          remediation="Set `cloud_watch_logs_group_arn` and `cloud_watch_logs_role_arn`.",
          references=_docs("cloudtrail"), controls=(aws("3.4"),), kinds=("aws_cloudtrail",)),
    check("SW-AWS-047", "KMS key rotation disabled", MEDIUM, TF, _kms_rotation,
          description="A key that never rotates protects more data for longer if leaked.",
          remediation="Set `enable_key_rotation = true`.", references=_docs("kms_key"),
          controls=(aws("3.8"),), kinds=("aws_kms_key",)),
    check("SW-AWS-048", "VPC flow logs disabled", MEDIUM, TF, _vpc_flow_logs,
          description="Without flow logs network activity cannot be investigated.",
          remediation="Add an `aws_flow_log` for the VPC.", references=_docs("flow_log"),
          controls=(aws("3.9"),), kinds=("aws_vpc",)),
    check("SW-AWS-049", "AWS credentials in provider block", CRITICAL, TF, _provider_keys,
          description="Access keys in configuration end up in version control and state.",
          remediation="Use environment variables, profiles or instance roles.",
          references=("https://registry.terraform.io/providers/hashicorp/aws/latest/docs",),
          kinds=("provider.aws",)),
    check("SW-AWS-050", "Load balancer listener uses plain HTTP", MEDIUM, TF, _http_listener,
          description="Traffic between clients and the load balancer is not encrypted.",
          remediation="Use HTTPS, or redirect HTTP to HTTPS.", references=_docs("lb_listener"),
          kinds=("aws_lb_listener", "aws_alb_listener")),
    check("SW-AWS-051", "Load balancer allows old TLS", MEDIUM, TF, _old_tls,
          description="TLS 1.0/1.1 are deprecated and weak.",
          remediation="Use ELBSecurityPolicy-TLS13-1-2-2021-06 or newer.",
          references=_docs("lb_listener"), kinds=("aws_lb_listener", "aws_alb_listener")),
    check("SW-AWS-052", "EKS API endpoint public to any address", MEDIUM, TF, _eks_public,
          description="The Kubernetes API is reachable from the whole internet.",
          remediation="Disable public access or set `public_access_cidrs`.",
          references=_docs("eks_cluster"), kinds=("aws_eks_cluster",)),
    check("SW-AWS-053", "EKS control plane logging disabled", LOW, TF, _eks_logging,
          description="API server and audit logs are not kept.",
          remediation="Set `enabled_cluster_log_types` (api, audit, authenticator).",
          references=_docs("eks_cluster"), kinds=("aws_eks_cluster",)),
    check("SW-AWS-054", "Credential in Lambda environment", HIGH, TF, _lambda_env,
          description="Function environment variables are visible to anyone who can read the "
                      "function configuration.",
          remediation="Use Secrets Manager or SSM Parameter Store.",
          references=_docs("lambda_function"), kinds=("aws_lambda_function",)),
    check("SW-AWS-055", "CloudFront allows plain HTTP", MEDIUM, TF, _cloudfront_http,
          description="Viewers can reach the distribution unencrypted.",
          remediation="Use `redirect-to-https` or `https-only`.",
          references=_docs("cloudfront_distribution"), kinds=("aws_cloudfront_distribution",)),
    check("SW-AWS-056", "EC2 instance metadata v1 allowed", MEDIUM, TF, _imdsv1,
          description="IMDSv1 lets SSRF bugs steal the instance role's credentials.",
          remediation="Set `metadata_options { http_tokens = \"required\" }`.",
          references=_docs("instance"), kinds=("aws_instance", "aws_launch_template")),
    check("SW-AWS-057", "EC2 instance gets a public IP", LOW, TF,
          _public_ip,
          description="A public address exposes the instance directly to the internet.",
          remediation="Place instances in private subnets behind a load balancer.",
          references=_docs("instance"), kinds=("aws_instance",)),
    check("SW-AWS-058", "Credential in EC2 user data", HIGH, TF, _user_data,
          description="User data is readable from the instance metadata and the console.",
          remediation="Fetch secrets at boot from Secrets Manager with the instance role.",
          references=_docs("instance"), kinds=("aws_instance", "aws_launch_template")),
    check("SW-AWS-059", "AWS Config not recording all resources", LOW, TF, _config_recorder,
          description="Configuration changes to unrecorded resource types are not tracked.",
          remediation="Set `recording_group { all_supported = true }`.",
          references=_docs("config_configuration_recorder"), controls=(aws("3.5"),),
          kinds=("aws_config_configuration_recorder",)),
)
