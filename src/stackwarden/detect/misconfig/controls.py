"""Compliance frameworks the built-in checks map to, and how a control is written.

A control is `"<framework>:<control id>"`, e.g. `cis-docker-1.6.0:4.1` or
`nsa-cisa-k8s-1.2:non-root`; `Finding.controls` carries these strings and compliance
reports group by the part before the colon.
"""

from __future__ import annotations

FRAMEWORKS: dict[str, str] = {
    "cis-docker-1.6.0": "CIS Docker Benchmark v1.6.0",
    "cis-k8s-1.23": "CIS Kubernetes Benchmark v1.23 (section 5, policies)",
    "nsa-cisa-k8s-1.2": "NSA/CISA Kubernetes Hardening Guide v1.2",
    "cis-aws-1.4.0": "CIS Amazon Web Services Foundations Benchmark v1.4.0",
    "cis-azure-1.3.0": "CIS Microsoft Azure Foundations Benchmark v1.3.0",
    "cis-gcp-1.3.0": "CIS Google Cloud Platform Foundation Benchmark v1.3.0",
}

# The NSA/CISA guide has sections, not numbered controls: these are its section slugs.
NSA_SECTIONS: dict[str, str] = {
    "non-root": "Kubernetes Pod security: non-root containers",
    "immutable-fs": "Kubernetes Pod security: immutable container file systems",
    "secure-images": "Kubernetes Pod security: building secure container images",
    "pod-security": "Kubernetes Pod security: Pod security enforcement (privileged, host "
                    "namespaces, privilege escalation, capabilities)",
    "sa-tokens": "Kubernetes Pod security: protecting Pod service account tokens",
    "hardening": "Kubernetes Pod security: hardening container environments (seccomp, "
                 "AppArmor, SELinux)",
    "namespaces": "Network separation and hardening: namespaces",
    "network-policies": "Network separation and hardening: network policies",
    "resource-policies": "Network separation and hardening: resource policies",
    "secrets": "Network separation and hardening: secrets",
    "rbac": "Authentication and authorization: role-based access control",
}


def docker(control: str) -> str:
    """A CIS Docker Benchmark control."""
    return f"cis-docker-1.6.0:{control}"


def k8s(control: str) -> str:
    """A CIS Kubernetes Benchmark control."""
    return f"cis-k8s-1.23:{control}"


def nsa(section: str) -> str:
    """A section of the NSA/CISA Kubernetes Hardening Guide."""
    if section not in NSA_SECTIONS:
        raise ValueError(f"unknown NSA/CISA section {section!r}")
    return f"nsa-cisa-k8s-1.2:{section}"


def aws(control: str) -> str:
    """A CIS AWS Foundations control."""
    return f"cis-aws-1.4.0:{control}"


def azure(control: str) -> str:
    """A CIS Azure Foundations control."""
    return f"cis-azure-1.3.0:{control}"


def gcp(control: str) -> str:
    """A CIS GCP Foundations control."""
    return f"cis-gcp-1.3.0:{control}"
