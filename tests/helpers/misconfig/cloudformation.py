"""CloudFormation plants: one resource (or parameter) per plant, YAML with short-form tags."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from tests.helpers.misconfig import FileKind, Mutation, Plant
from tests.helpers.misconfig.hcl import DELETE, merged


class Tag(str):
    """A short-form intrinsic (`!Ref x`, `!GetAtt a.b`, `!Sub …`) for the YAML writer."""

    tag = "!Ref"


class GetAtt(Tag):
    """`!GetAtt Resource.Attribute`."""

    tag = "!GetAtt"


class _Dumper(yaml.SafeDumper):
    pass


def _represent(dumper: yaml.SafeDumper, data: Tag) -> yaml.Node:
    return dumper.represent_scalar(data.tag, str(data))


_Dumper.add_representer(Tag, _represent)
_Dumper.add_representer(GetAtt, _represent)

BUCKET = {"BucketEncryption": {"ServerSideEncryptionConfiguration": [{
    "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                      "KMSMasterKeyID": Tag("DataKey")}}]},
    "VersioningConfiguration": {"Status": "Enabled"},
    "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                       "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
    "LoggingConfiguration": {"DestinationBucketName": Tag("LogBucket")}}
SG = {"GroupDescription": "web", "VpcId": Tag("Vpc"), "SecurityGroupIngress": [
    {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "10.0.0.0/8"}]}
DB = {"Engine": "postgres", "DBInstanceClass": "db.t3.micro", "AllocatedStorage": "20",
      "StorageEncrypted": True, "PubliclyAccessible": False, "MasterUsername": "shop",
      "ManageMasterUserPassword": True}
TRAIL = {"IsLogging": True, "S3BucketName": Tag("TrailBucket"), "IsMultiRegionTrail": True,
         "EnableLogFileValidation": True, "KMSKeyId": Tag("TrailKey")}
LAMBDA = {"Runtime": "python3.12", "Handler": "index.handler", "Role": GetAtt("FnRole.Arn"),
          "Code": {"ZipFile": "def handler(e, c): pass"},
          "Environment": {"Variables": {"LOG_LEVEL": "info"}}}
LISTENER = {"LoadBalancerArn": Tag("Alb"), "Port": 443, "Protocol": "HTTPS",
            "Certificates": [{"CertificateArn": Tag("Cert")}],
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": Tag("Tg")}]}


def _policy(action: str, principal: Any = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": "*"}
    if principal is not None:
        statement["Principal"] = principal
    return {"Version": "2012-10-17", "Statement": [statement]}


def _sg_rule(port: int, cidr: str, protocol: str = "tcp") -> dict[str, Any]:
    return {"GroupId": Tag("WebSg"), "IpProtocol": protocol, "FromPort": port,
            "ToPort": port, "CidrIp": cidr}


def _plant(check_id: str, rtype: str, base: dict[str, Any], bad: dict[str, Any],
           good: dict[str, Any], also: tuple[str, ...] = ()) -> Plant:
    def make(overrides: dict[str, Any]) -> Mutation:
        def run(model: dict[str, Any], n: int) -> str:
            name = f"R{n}"
            model["Resources"][name] = {"Type": rtype, "Properties": merged(base, overrides)}
            return name
        return run
    return Plant(check_id, "cloudformation", make(bad), make(good), also=also)


def _parameter_plant() -> Plant:
    def make(spec: dict[str, Any]) -> Mutation:
        def run(model: dict[str, Any], n: int) -> str:
            model.setdefault("Parameters", {})[f"R{n}DbPassword"] = dict(spec)
            return f"R{n}DbPassword"
        return run
    return Plant("SW-CFN-022", "cloudformation", make({"Type": "String", "Default": "x"}),
                 make({"Type": "String", "NoEcho": True}))


ACCOUNT = {"AWS": "arn:aws:iam::123456789012:root"}
PLANTS = [
    _plant("SW-CFN-001", "AWS::S3::Bucket", BUCKET, {"AccessControl": "PublicRead"},
           {"AccessControl": "Private"}),
    _plant("SW-CFN-002", "AWS::S3::Bucket", BUCKET, {"PublicAccessBlockConfiguration": {
        "BlockPublicAcls": True, "BlockPublicPolicy": False, "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True}}, {"PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
            "RestrictPublicBuckets": "true"}}),
    _plant("SW-CFN-003", "AWS::S3::Bucket", BUCKET, {"BucketEncryption": DELETE},
           {"BucketEncryption": {"ServerSideEncryptionConfiguration": [{
               "ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}}),
    _plant("SW-CFN-004", "AWS::S3::Bucket", BUCKET,
           {"VersioningConfiguration": {"Status": "Suspended"}}, {}),
    _plant("SW-CFN-005", "AWS::S3::Bucket", BUCKET, {"LoggingConfiguration": DELETE},
           {"LoggingConfiguration": {"DestinationBucketName": "logs", "LogFilePrefix": "s3/"}}),
    _plant("SW-CFN-006", "AWS::S3::BucketPolicy", {"Bucket": Tag("Data"),
                                                   "PolicyDocument": _policy("s3:GetObject",
                                                                             ACCOUNT)},
           {"PolicyDocument": _policy("s3:GetObject", "*")}, {}),
    _plant("SW-CFN-007", "AWS::EC2::SecurityGroup", SG, {"SecurityGroupIngress": [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}]},
        {"SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                   "CidrIp": "10.0.0.0/8"}]}),
    _plant("SW-CFN-008", "AWS::EC2::SecurityGroupIngress", _sg_rule(443, "10.0.0.0/8"),
           _sg_rule(3389, "0.0.0.0/0"), _sg_rule(3389, "192.168.1.0/24")),
    _plant("SW-CFN-009", "AWS::EC2::SecurityGroupIngress", _sg_rule(443, "10.0.0.0/8"),
           _sg_rule(-1, "0.0.0.0/0", "-1"), _sg_rule(443, "0.0.0.0/0")),
    _plant("SW-CFN-010", "AWS::IAM::ManagedPolicy", {"PolicyDocument": _policy("s3:GetObject")},
           {"PolicyDocument": _policy("*")}, {}),
    _plant("SW-CFN-011", "AWS::IAM::Role", {"AssumeRolePolicyDocument": _policy(
        "sts:AssumeRole", {"Service": "lambda.amazonaws.com"})},
        {"AssumeRolePolicyDocument": _policy("sts:AssumeRole", {"AWS": "*"})}, {}),
    _plant("SW-CFN-012", "AWS::RDS::DBInstance", DB, {"StorageEncrypted": False},
           {"KmsKeyId": Tag("DbKey")}),
    _plant("SW-CFN-013", "AWS::RDS::DBInstance", DB, {"PubliclyAccessible": True}, {}),
    _plant("SW-CFN-014", "AWS::EC2::Volume", {"AvailabilityZone": "eu-west-1a", "Size": 10,
                                              "Encrypted": True},
           {"Encrypted": False}, {"KmsKeyId": Tag("DataKey")}),
    _plant("SW-CFN-015", "AWS::EFS::FileSystem", {"Encrypted": True}, {"Encrypted": False}, {}),
    _plant("SW-CFN-016", "AWS::CloudTrail::Trail", TRAIL, {"IsMultiRegionTrail": False}, {}),
    _plant("SW-CFN-017", "AWS::CloudTrail::Trail", TRAIL, {"EnableLogFileValidation": False},
           {}),
    _plant("SW-CFN-018", "AWS::CloudTrail::Trail", TRAIL, {"KMSKeyId": DELETE},
           {"KMSKeyId": "alias/trail"}),
    _plant("SW-CFN-019", "AWS::KMS::Key", {"EnableKeyRotation": True, "KeyPolicy": _policy(
        "kms:*", ACCOUNT)}, {"EnableKeyRotation": False}, {"PendingWindowInDays": 30}),
    _plant("SW-CFN-020", "AWS::EC2::LaunchTemplate", {"LaunchTemplateData": {
        "ImageId": "ami-0123", "MetadataOptions": {"HttpTokens": "required"}}},
        {"LaunchTemplateData": {"ImageId": "ami-0123",
                                "MetadataOptions": {"HttpTokens": "optional"}}}, {}),
    _plant("SW-CFN-021", "AWS::Lambda::Function", LAMBDA,
           {"Environment": {"Variables": {"DB_PASSWORD": "Sup3rS3cret!"}}},
           {"Environment": {"Variables": {"DB_PASSWORD": "{{resolve:secretsmanager:db}}"}}}),
    _parameter_plant(),
    _plant("SW-CFN-023", "AWS::ElasticLoadBalancingV2::Listener", LISTENER,
           {"Port": 80, "Protocol": "HTTP", "Certificates": DELETE},
           {"Port": 80, "Protocol": "HTTP", "Certificates": DELETE, "DefaultActions": [{
               "Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443",
                                                      "StatusCode": "HTTP_301"}}]}),
    _plant("SW-CFN-024", "AWS::ECR::Repository", {"ImageScanningConfiguration": {
        "ScanOnPush": True}}, {"ImageScanningConfiguration": {"ScanOnPush": False}}, {}),
]


def new() -> dict[str, Any]:
    """A template with one hardened bucket."""
    return {"AWSTemplateFormatVersion": "2010-09-09", "Description": "generated",
            "Resources": {"Data": {"Type": "AWS::S3::Bucket",
                                   "Properties": copy.deepcopy(BUCKET)}}}


def render(model: dict[str, Any]) -> bytes:
    """YAML with short-form intrinsic tags."""
    return yaml.dump(model, Dumper=_Dumper, sort_keys=False).encode()


KIND = FileKind("cloudformation", new, render, lambda n: f"stack-{n}.yaml", single_model=False)
