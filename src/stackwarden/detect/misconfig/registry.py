"""The explicit lists: file types (in detection order) and built-in check modules.

Adding a file type is one module plus one line in FILE_TYPES; adding checks is one module
plus one line in CHECK_MODULES (a test fails when a module exists that is not listed).
"""

from __future__ import annotations

from functools import cache
from types import ModuleType

from stackwarden.detect.misconfig import (
    cloudformation,
    compose,
    dockerfile,
    github_actions,
    gitlab_ci,
    image_config,
    kubernetes,
    terraform,
)
from stackwarden.detect.misconfig.checks import cloudformation as cloudformation_checks
from stackwarden.detect.misconfig.checks import compose as compose_checks
from stackwarden.detect.misconfig.checks import dockerfile as dockerfile_checks
from stackwarden.detect.misconfig.checks import github_actions as github_actions_checks
from stackwarden.detect.misconfig.checks import gitlab_ci as gitlab_ci_checks
from stackwarden.detect.misconfig.checks import image_config as image_config_checks
from stackwarden.detect.misconfig.checks import (
    k8s_cluster,
    k8s_pod,
    k8s_workload,
    tf_aws_access,
    tf_aws_data,
    tf_azure,
    tf_gcp,
)
from stackwarden.detect.misconfig.model import Check, FileType

# Types recognised by name come first; then content decides, in this order (a YAML file
# that parses as a CloudFormation template is not also read as Kubernetes manifests).
FILE_TYPES: tuple[FileType, ...] = (
    dockerfile.FILE_TYPE,
    compose.FILE_TYPE,
    github_actions.FILE_TYPE,
    gitlab_ci.FILE_TYPE,
    terraform.FILE_TYPE,
    cloudformation.FILE_TYPE,
    kubernetes.FILE_TYPE,
    image_config.FILE_TYPE,
)

CHECK_MODULES: tuple[ModuleType, ...] = (
    dockerfile_checks,
    image_config_checks,
    k8s_pod,
    k8s_workload,
    k8s_cluster,
    compose_checks,
    tf_aws_data,
    tf_aws_access,
    tf_azure,
    tf_gcp,
    cloudformation_checks,
    github_actions_checks,
    gitlab_ci_checks,
)


@cache
def builtin_checks() -> tuple[Check, ...]:
    """Every built-in check, in declaration order."""
    return tuple(item for module in CHECK_MODULES for item in module.CHECKS)


def file_type(name: str) -> FileType:
    """A file type by name (KeyError when unknown)."""
    for item in FILE_TYPES:
        if item.name == name:
            return item
    raise KeyError(name)
