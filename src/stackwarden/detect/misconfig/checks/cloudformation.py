"""CloudFormation checks: S3, security groups, IAM, RDS, EBS, EFS, CloudTrail, KMS, EC2
metadata, Lambda, load balancers, ECR, parameters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from stackwarden.detect.misconfig.checks import CRITICAL, HIGH, LOW, MEDIUM, check
from stackwarden.detect.misconfig.checks.tf_common import (
    allows,
    open_principal,
    statements,
    strings,
)
from stackwarden.detect.misconfig.checks.util import (
    as_list,
    covers,
    get,
    hit,
    is_open_cidr,
    is_secret_name,
    is_true,
    mappings,
    port_range,
    secret_assignment,
    unknown,
)
from stackwarden.detect.misconfig.controls import aws
from stackwarden.detect.misconfig.model import Document, Hit, TestFunc

CFN = "cloudformation"
DOCS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/"
BUCKET = ("AWS::S3::Bucket",)
SG = ("AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress")
IAM = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role", "AWS::IAM::User",
       "AWS::IAM::Group")
TRAIL = ("AWS::CloudTrail::Trail",)


def props(doc: Document) -> dict[str, Any]:
    """The resource's Properties ({} when absent)."""
    value = doc.body.get("Properties")
    return value if isinstance(value, dict) else {}


def on(doc: Document, message: str, key: str | None = None, node: Any = None) -> Hit:
    """A hit on a property (or the resource when the property is absent)."""
    target = props(doc) if node is None else node
    if key is not None and isinstance(target, dict) and key in target:
        return hit(message, target, key, key)
    return hit(message, doc.body, "Properties" if "Properties" in doc.body else None,
               key or "")


def _not_true(key: str, message: str) -> TestFunc:
    def test(doc: Document) -> Iterator[Hit]:
        value = props(doc).get(key)
        if not is_true(value) and not unknown(value):
            yield on(doc, message, key)
    return test


def _public_acl(doc: Document) -> Iterator[Hit]:
    acl = props(doc).get("AccessControl")
    if acl in ("PublicRead", "PublicReadWrite", "AuthenticatedRead"):
        yield on(doc, f"bucket AccessControl is {acl}", "AccessControl")


def _public_block(doc: Document) -> Iterator[Hit]:
    config = props(doc).get("PublicAccessBlockConfiguration")
    keys = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    if not isinstance(config, dict) or not all(is_true(config.get(k)) or unknown(config.get(k))
                                               for k in keys):
        yield on(doc, "public access block is missing or incomplete",
                 "PublicAccessBlockConfiguration")


def _missing(key: str, message: str) -> TestFunc:
    def test(doc: Document) -> Iterator[Hit]:
        if props(doc).get(key) is None:
            yield on(doc, message)
    return test


def _versioning(doc: Document) -> Iterator[Hit]:
    status = get(props(doc), "VersioningConfiguration", "Status")
    if status != "Enabled" and not unknown(status):
        yield on(doc, "bucket versioning is not enabled", "VersioningConfiguration")


def _policy_docs(doc: Document) -> Iterator[Any]:
    p = props(doc)
    yield p.get("PolicyDocument")
    for policy in mappings(p.get("Policies")):
        yield policy.get("PolicyDocument")


def _bucket_policy(doc: Document) -> Iterator[Hit]:
    for statement in statements(props(doc).get("PolicyDocument")):
        if allows(statement) and open_principal(statement) and not statement.get("Condition"):
            yield on(doc, "bucket policy allows any principal without a condition",
                     "PolicyDocument")
            return


def _ingress(doc: Document) -> Iterator[tuple[Any, Any, dict[str, Any]]]:
    if doc.kind == "AWS::EC2::SecurityGroupIngress":
        yield props(doc), None, props(doc)
        return
    rules = props(doc).get("SecurityGroupIngress")
    for index, rule in enumerate(as_list(rules)):
        if isinstance(rule, dict):
            yield rules, index, rule


def _open(port: int | None, label: str) -> TestFunc:
    def test(doc: Document) -> Iterator[Hit]:
        for node, key, rule in _ingress(doc):
            if not (is_open_cidr(rule.get("CidrIp")) or is_open_cidr(rule.get("CidrIpv6"))):
                continue
            ports = (0, 65535) if str(rule.get("IpProtocol")) in ("-1", "all") else \
                port_range(rule.get("FromPort"), rule.get("ToPort"))
            everything = ports == (0, 65535)
            if (port is None and everything) or (port is not None and not everything and
                                                 covers(ports, port)):
                yield hit(f"ingress from the internet to {label}", node, key, f"rule:{key}")
    return test


def _admin(doc: Document) -> Iterator[Hit]:
    for policy in _policy_docs(doc):
        for statement in statements(policy):
            if allows(statement) and "*" in strings(statement.get("Action")) and \
                    "*" in strings(statement.get("Resource")):
                yield on(doc, "policy allows every action on every resource")
                return


def _open_trust(doc: Document) -> Iterator[Hit]:
    for statement in statements(props(doc).get("AssumeRolePolicyDocument")):
        if allows(statement) and open_principal(statement) and not statement.get("Condition"):
            yield on(doc, "role can be assumed by any AWS principal", "AssumeRolePolicyDocument")
            return


def _rds_encrypted(doc: Document) -> Iterator[Hit]:
    p = props(doc)
    if doc.kind == "AWS::RDS::DBInstance" and p.get("DBClusterIdentifier") is not None:
        return  # Aurora members inherit the cluster's encryption
    value = p.get("StorageEncrypted")
    if not is_true(value) and not unknown(value):
        yield on(doc, "database storage is not encrypted", "StorageEncrypted")


def _public_db(doc: Document) -> Iterator[Hit]:
    if is_true(props(doc).get("PubliclyAccessible")):
        yield on(doc, "database has a public endpoint", "PubliclyAccessible")


def _kms_rotation(doc: Document) -> Iterator[Hit]:
    p = props(doc)
    if p.get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT" and \
            not is_true(p.get("EnableKeyRotation")) and not unknown(p.get("EnableKeyRotation")):
        yield on(doc, "key rotation is not enabled", "EnableKeyRotation")


def _imds(doc: Document) -> Iterator[Hit]:
    options = get(props(doc), "LaunchTemplateData", "MetadataOptions") \
        if doc.kind == "AWS::EC2::LaunchTemplate" else props(doc).get("MetadataOptions")
    tokens = options.get("HttpTokens") if isinstance(options, dict) else None
    if tokens != "required" and not unknown(tokens):
        yield on(doc, "instance metadata service v1 is allowed", "LaunchTemplateData")


def _lambda_env(doc: Document) -> Iterator[Hit]:
    variables = get(props(doc), "Environment", "Variables")
    if isinstance(variables, dict):
        for name, value in variables.items():
            if secret_assignment(name, value):
                yield hit(f"environment variable {name} holds a credential", variables, name,
                          f"env:{name}")


def _parameter(doc: Document) -> Iterator[Hit]:
    if is_secret_name(doc.name) and not is_true(doc.body.get("NoEcho")):
        yield hit(f"parameter {doc.name} is a secret without NoEcho", doc.body,
                  "Default" if "Default" in doc.body else None, "NoEcho")


def _http_listener(doc: Document) -> Iterator[Hit]:
    p = props(doc)
    if str(p.get("Protocol", "")).upper() != "HTTP":
        return
    if not any(a.get("Type") == "redirect" and get(a, "RedirectConfig", "Protocol") == "HTTPS"
               for a in mappings(p.get("DefaultActions"))):
        yield on(doc, "listener serves plain HTTP without redirecting to HTTPS", "Protocol")


def _ecr_scan(doc: Document) -> Iterator[Hit]:
    if not is_true(get(props(doc), "ImageScanningConfiguration", "ScanOnPush")):
        yield on(doc, "images are not scanned on push", "ImageScanningConfiguration")


def _d(page: str) -> tuple[str, ...]:
    return (DOCS + page,)


CHECKS = (
    check("SW-CFN-001", "S3 bucket ACL is public", HIGH, CFN, _public_acl,
          description="PublicRead(Write) or AuthenticatedRead exposes the bucket.",
          remediation="Remove AccessControl (private) and add a public access block.",
          references=_d("aws-resource-s3-bucket.html"), controls=(aws("2.1.5"),),
          kinds=BUCKET),
    check("SW-CFN-002", "S3 bucket public access block incomplete", MEDIUM, CFN, _public_block,
          description="Without all four block settings a later change can make the bucket "
                      "public.", remediation="Set all four PublicAccessBlockConfiguration "
          "settings to true.", references=_d("aws-resource-s3-bucket.html"),
          controls=(aws("2.1.5"),), kinds=BUCKET),
    check("SW-CFN-003", "S3 bucket not encrypted", MEDIUM, CFN,
          _missing("BucketEncryption", "bucket has no BucketEncryption"),
          description="Objects are not encrypted with a key you control.",
          remediation="Add BucketEncryption (SSE-KMS).",
          references=_d("aws-resource-s3-bucket.html"), controls=(aws("2.1.1"),),
          kinds=BUCKET),
    check("SW-CFN-004", "S3 bucket versioning disabled", MEDIUM, CFN, _versioning,
          description="Overwritten or deleted objects cannot be recovered.",
          remediation="Set VersioningConfiguration Status: Enabled.",
          references=_d("aws-resource-s3-bucket.html"), kinds=BUCKET),
    check("SW-CFN-005", "S3 bucket access logging disabled", LOW, CFN,
          _missing("LoggingConfiguration", "bucket access logging is not enabled"),
          description="There is no record of who read or changed objects.",
          remediation="Add LoggingConfiguration.", references=_d("aws-resource-s3-bucket.html"),
          controls=(aws("3.6"),), kinds=BUCKET),
    check("SW-CFN-006", "S3 bucket policy allows anyone", HIGH, CFN, _bucket_policy,
          description="Principal \"*\" without a condition grants access to the internet.",
          remediation="Name the principals or add conditions.",
          references=_d("aws-resource-s3-bucketpolicy.html"), controls=(aws("2.1.5"),),
          kinds=("AWS::S3::BucketPolicy",)),
    check("SW-CFN-007", "Security group allows SSH from the internet", HIGH, CFN,
          _open(22, "SSH (22)"),
          description="Port 22 open to 0.0.0.0/0 invites brute force and exploitation.",
          remediation="Restrict CidrIp or use SSM Session Manager.",
          references=_d("aws-resource-ec2-securitygroup.html"), controls=(aws("5.2"),),
          kinds=SG),
    check("SW-CFN-008", "Security group allows RDP from the internet", HIGH, CFN,
          _open(3389, "RDP (3389)"),
          description="Port 3389 open to 0.0.0.0/0 invites brute force and exploitation.",
          remediation="Restrict CidrIp.", references=_d("aws-resource-ec2-securitygroup.html"),
          controls=(aws("5.2"),), kinds=SG),
    check("SW-CFN-009", "Security group allows all ports from the internet", CRITICAL, CFN,
          _open(None, "every port"),
          description="Every port is reachable from anywhere.",
          remediation="Open only the needed ports.",
          references=_d("aws-resource-ec2-securitygroup.html"), controls=(aws("5.2"),),
          kinds=SG),
    check("SW-CFN-010", "IAM policy grants full administrative access", CRITICAL, CFN, _admin,
          description="Action \"*\" on Resource \"*\" is full control of the account.",
          remediation="Grant the actions and resources needed.",
          references=_d("aws-resource-iam-policy.html"), controls=(aws("1.16"),), kinds=IAM),
    check("SW-CFN-011", "IAM role assumable by anyone", HIGH, CFN, _open_trust,
          description="Principal \"*\" in the trust policy lets any account assume the role.",
          remediation="Name the trusted principals.",
          references=_d("aws-resource-iam-role.html"), kinds=("AWS::IAM::Role",)),
    check("SW-CFN-012", "RDS storage not encrypted", HIGH, CFN, _rds_encrypted,
          description="Database files, backups and snapshots are not encrypted at rest.",
          remediation="Set StorageEncrypted: true.",
          references=_d("aws-resource-rds-dbinstance.html"), controls=(aws("2.3.1"),),
          kinds=("AWS::RDS::DBInstance", "AWS::RDS::DBCluster")),
    check("SW-CFN-013", "RDS instance publicly accessible", HIGH, CFN, _public_db,
          description="A public database endpoint is exposed to the internet.",
          remediation="Set PubliclyAccessible: false.",
          references=_d("aws-resource-rds-dbinstance.html"), kinds=("AWS::RDS::DBInstance",)),
    check("SW-CFN-014", "EBS volume not encrypted", MEDIUM, CFN,
          _not_true("Encrypted", "volume is not encrypted"),
          description="Unencrypted volumes and snapshots expose data at rest.",
          remediation="Set Encrypted: true.", references=_d("aws-resource-ec2-volume.html"),
          controls=(aws("2.2.1"),), kinds=("AWS::EC2::Volume",)),
    check("SW-CFN-015", "EFS file system not encrypted", MEDIUM, CFN,
          _not_true("Encrypted", "file system is not encrypted"),
          description="File system data is not encrypted at rest.",
          remediation="Set Encrypted: true.", references=_d("aws-resource-efs-filesystem.html"),
          controls=(aws("2.4.1"),), kinds=("AWS::EFS::FileSystem",)),
    check("SW-CFN-016", "CloudTrail not multi-region", MEDIUM, CFN,
          _not_true("IsMultiRegionTrail", "trail records one region only"),
          description="Activity in other regions goes unrecorded.",
          remediation="Set IsMultiRegionTrail: true.",
          references=_d("aws-resource-cloudtrail-trail.html"), controls=(aws("3.1"),),
          kinds=TRAIL),
    check("SW-CFN-017", "CloudTrail log validation disabled", MEDIUM, CFN,
          _not_true("EnableLogFileValidation", "log file validation is off"),
          description="Tampering with log files cannot be detected.",
          remediation="Set EnableLogFileValidation: true.",
          references=_d("aws-resource-cloudtrail-trail.html"), controls=(aws("3.2"),),
          kinds=TRAIL),
    check("SW-CFN-018", "CloudTrail not encrypted with KMS", MEDIUM, CFN,
          _missing("KMSKeyId", "trail logs are not encrypted with a KMS key"),
          description="Logs are readable by anyone with access to the bucket.",
          remediation="Set KMSKeyId.", references=_d("aws-resource-cloudtrail-trail.html"),
          controls=(aws("3.7"),), kinds=TRAIL),
    check("SW-CFN-019", "KMS key rotation disabled", MEDIUM, CFN, _kms_rotation,
          description="A key that never rotates protects more data for longer if leaked.",
          remediation="Set EnableKeyRotation: true.", references=_d("aws-resource-kms-key.html"),
          controls=(aws("3.8"),), kinds=("AWS::KMS::Key",)),
    check("SW-CFN-020", "EC2 instance metadata v1 allowed", MEDIUM, CFN, _imds,
          description="IMDSv1 lets SSRF bugs steal the instance role's credentials.",
          remediation="Set MetadataOptions HttpTokens: required.",
          references=_d("aws-resource-ec2-launchtemplate.html"),
          kinds=("AWS::EC2::LaunchTemplate",)),
    check("SW-CFN-021", "Credential in Lambda environment", HIGH, CFN, _lambda_env,
          description="Function environment variables are readable from the function "
                      "configuration.", remediation="Use Secrets Manager or SSM parameters.",
          references=_d("aws-resource-lambda-function.html"),
          kinds=("AWS::Lambda::Function", "AWS::Serverless::Function")),
    check("SW-CFN-022", "Secret parameter without NoEcho", MEDIUM, CFN, _parameter,
          description="Parameter values are shown in the console and API unless NoEcho is set.",
          remediation="Set NoEcho: true, or use a dynamic reference to Secrets Manager.",
          references=_d("parameters-section-structure.html"), kinds=("Parameter",)),
    check("SW-CFN-023", "Load balancer listener uses plain HTTP", MEDIUM, CFN, _http_listener,
          description="Traffic to the load balancer is not encrypted.",
          remediation="Use HTTPS or redirect HTTP to HTTPS.",
          references=_d("aws-resource-elasticloadbalancingv2-listener.html"),
          kinds=("AWS::ElasticLoadBalancingV2::Listener",)),
    check("SW-CFN-024", "ECR scan on push disabled", LOW, CFN, _ecr_scan,
          description="Pushed images are not scanned for known vulnerabilities.",
          remediation="Set ImageScanningConfiguration ScanOnPush: true.",
          references=_d("aws-resource-ecr-repository.html"), kinds=("AWS::ECR::Repository",)),
)
