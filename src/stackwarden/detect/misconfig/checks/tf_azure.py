"""Terraform Azure (azurerm): storage, network security groups, SQL and database servers,
Key Vault, App Service, AKS, virtual machines, container registry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from stackwarden.detect.misconfig.checks import CRITICAL, HIGH, LOW, MEDIUM, check
from stackwarden.detect.misconfig.checks.tf_common import (
    AZ_DOCS,
    TF,
    at,
    attr_false,
    attr_missing,
    attr_not_true,
    attr_true,
    first,
)
from stackwarden.detect.misconfig.checks.util import (
    as_list,
    covers,
    hit,
    is_false,
    is_open_cidr,
    is_true,
    parse_port_spec,
    secret_assignment,
)
from stackwarden.detect.misconfig.controls import azure
from stackwarden.detect.misconfig.model import Document, Hit, TestFunc

STORAGE = ("azurerm_storage_account",)
NSG_KINDS = ("azurerm_network_security_group", "azurerm_network_security_rule")
FIREWALL_KINDS = ("azurerm_sql_firewall_rule", "azurerm_mssql_firewall_rule",
                  "azurerm_mysql_firewall_rule", "azurerm_postgresql_firewall_rule",
                  "azurerm_mariadb_firewall_rule", "azurerm_mysql_flexible_server_firewall_rule",
                  "azurerm_postgresql_flexible_server_firewall_rule")
APP_KINDS = ("azurerm_app_service", "azurerm_linux_web_app", "azurerm_windows_web_app",
             "azurerm_function_app", "azurerm_linux_function_app",
             "azurerm_windows_function_app")
OLD_TLS = ("TLS1_0", "TLS1_1", "1.0", "1.1")


def _https_only(doc: Document) -> Iterator[Hit]:
    for key in ("enable_https_traffic_only", "https_traffic_only_enabled"):
        if is_false(doc.body.get(key)):
            yield at(doc, "storage account accepts plain HTTP", key)


def _storage_tls(doc: Document) -> Iterator[Hit]:
    if doc.body.get("min_tls_version") in OLD_TLS:
        yield at(doc, f"minimum TLS version is {doc.body['min_tls_version']}", "min_tls_version")


def _public_blobs(doc: Document) -> Iterator[Hit]:
    for key in ("allow_blob_public_access", "allow_nested_items_to_be_public"):
        if is_true(doc.body.get(key)):
            yield at(doc, f"{key} lets containers be made public", key)


def _public_container(doc: Document) -> Iterator[Hit]:
    if doc.body.get("container_access_type") in ("blob", "container"):
        yield at(doc, f"container access type is {doc.body['container_access_type']} "
                      "(anonymous read)", "container_access_type")


def _storage_network(doc: Document) -> Iterator[Hit]:
    if doc.kind == "azurerm_storage_account_network_rules":
        action = doc.body.get("default_action")
    else:
        action = first(doc.body, "network_rules", "default_action")
    if isinstance(action, str) and action.lower() == "allow":
        yield at(doc, "network default action is Allow", "network_rules"
                 if doc.kind == "azurerm_storage_account" else "default_action")


def _nsg_rules(doc: Document) -> Iterator[tuple[Any, Any, dict[str, Any]]]:
    if doc.kind == "azurerm_network_security_rule":
        yield doc.body, None, doc.body
        return
    for index, rule in enumerate(as_list(doc.body.get("security_rule"))):
        if isinstance(rule, dict):
            yield doc.body["security_rule"], index, rule


def _nsg_open(rule: dict[str, Any]) -> list[tuple[int, int]]:
    """The port ranges an inbound Allow rule opens to the internet ([] if none)."""
    if str(rule.get("direction", "")).lower() != "inbound" or \
            str(rule.get("access", "")).lower() != "allow":
        return []
    sources = as_list(rule.get("source_address_prefix")) + \
        as_list(rule.get("source_address_prefixes"))
    if not any(is_open_cidr(s) for s in sources):
        return []
    specs = as_list(rule.get("destination_port_range")) + \
        as_list(rule.get("destination_port_ranges"))
    return [r for r in (parse_port_spec(s) for s in specs) if r is not None]


def _nsg_port(port: int | None, label: str) -> TestFunc:
    def test(doc: Document) -> Iterator[Hit]:
        for node, key, rule in _nsg_rules(doc):
            ranges = _nsg_open(rule)
            everything = (0, 65535) in ranges
            if (port is None and everything) or (port is not None and not everything and
                                                 any(covers(r, port) for r in ranges)):
                yield hit(f"inbound rule {rule.get('name', key)} allows {label} from the "
                          "internet", node, key, f"rule:{rule.get('name', key)}")
    return test


def _firewall_any(doc: Document) -> Iterator[Hit]:
    start, end = doc.body.get("start_ip_address"), doc.body.get("end_ip_address")
    if start == "0.0.0.0" and end == "255.255.255.255":
        yield at(doc, "firewall rule admits every IPv4 address", "start_ip_address")














def _keyvault_network(doc: Document) -> Iterator[Hit]:
    action = first(doc.body, "network_acls", "default_action")
    if action is None or (isinstance(action, str) and action.lower() == "allow"):
        yield at(doc, "key vault accepts connections from any network", "network_acls")


def _app_tls(doc: Document) -> Iterator[Hit]:
    version = first(doc.body, "site_config", "minimum_tls_version") or \
        first(doc.body, "site_config", "min_tls_version")
    if version in OLD_TLS:
        yield at(doc, f"minimum TLS version is {version}", "site_config")


def _app_ftp(doc: Document) -> Iterator[Hit]:
    if first(doc.body, "site_config", "ftps_state") == "AllAllowed":
        yield at(doc, "FTP deployments allowed without TLS (ftps_state AllAllowed)",
                 "site_config")


def _aks_rbac(doc: Document) -> Iterator[Hit]:
    if is_false(doc.body.get("role_based_access_control_enabled")) or \
            is_false(first(doc.body, "role_based_access_control", "enabled")):
        yield at(doc, "Kubernetes RBAC is disabled", "role_based_access_control_enabled")


def _aks_network_policy(doc: Document) -> Iterator[Hit]:
    if first(doc.body, "network_profile", "network_policy") is None:
        yield at(doc, "no network policy plugin: NetworkPolicies are not enforced",
                 "network_profile")


def _provider_secret(doc: Document) -> Iterator[Hit]:
    for key in ("client_secret", "client_certificate_password"):
        if secret_assignment("CLIENT_SECRET", doc.body.get(key)):
            yield at(doc, f"provider {key} is written in the configuration", key)


def _docs(name: str) -> tuple[str, ...]:
    return (AZ_DOCS + name,)


CHECKS = (
    check("SW-AZ-001", "Storage account allows HTTP", HIGH, TF, _https_only,
          description="Data to and from the account can travel unencrypted.",
          remediation="Set `https_traffic_only_enabled = true`.",
          references=_docs("storage_account"), controls=(azure("3.1"),), kinds=STORAGE),
    check("SW-AZ-002", "Storage account allows old TLS", MEDIUM, TF, _storage_tls,
          description="TLS 1.0/1.1 are deprecated and weak.",
          remediation="Set `min_tls_version = \"TLS1_2\"`.",
          references=_docs("storage_account"), kinds=STORAGE),
    check("SW-AZ-003", "Storage account allows public blob access", HIGH, TF, _public_blobs,
          description="Containers of the account may be opened to anonymous readers.",
          remediation="Set `allow_nested_items_to_be_public = false`.",
          references=_docs("storage_account"), controls=(azure("3.5"),), kinds=STORAGE),
    check("SW-AZ-004", "Storage container is public", HIGH, TF, _public_container,
          description="Anyone can read the container's blobs without credentials.",
          remediation="Set `container_access_type = \"private\"`.",
          references=_docs("storage_container"), controls=(azure("3.5"),),
          kinds=("azurerm_storage_container",)),
    check("SW-AZ-005", "Storage network access open by default", MEDIUM, TF, _storage_network,
          description="The account accepts connections from any network.",
          remediation="Set the network rules' `default_action = \"Deny\"` and allow known "
                      "networks.", references=_docs("storage_account_network_rules"),
          controls=(azure("3.6"),),
          kinds=("azurerm_storage_account", "azurerm_storage_account_network_rules")),
    check("SW-AZ-006", "NSG allows SSH from the internet", HIGH, TF, _nsg_port(22, "SSH"),
          description="Port 22 open to any source invites brute force and exploitation.",
          remediation="Restrict the source or use Azure Bastion.",
          references=_docs("network_security_rule"), controls=(azure("6.2"),),
          kinds=NSG_KINDS),
    check("SW-AZ-007", "NSG allows RDP from the internet", HIGH, TF, _nsg_port(3389, "RDP"),
          description="Port 3389 open to any source invites brute force and exploitation.",
          remediation="Restrict the source or use Azure Bastion.",
          references=_docs("network_security_rule"), controls=(azure("6.1"),),
          kinds=NSG_KINDS),
    check("SW-AZ-008", "NSG allows all ports from the internet", CRITICAL, TF,
          _nsg_port(None, "every port"),
          description="Every port of the attached resources is reachable from anywhere.",
          remediation="Open only the needed ports to the needed sources.",
          references=_docs("network_security_rule"), kinds=NSG_KINDS),
    check("SW-AZ-009", "Database firewall open to every address", HIGH, TF, _firewall_any,
          description="A 0.0.0.0-255.255.255.255 rule exposes the database to the internet.",
          remediation="Allow only the client ranges that need access (or private endpoints).",
          references=_docs("mssql_firewall_rule"), controls=(azure("6.3"),),
          kinds=FIREWALL_KINDS),
    check("SW-AZ-010", "Key Vault purge protection disabled", MEDIUM, TF,
          attr_not_true("purge_protection_enabled", "purge protection is not enabled"),
          description="Deleted vaults and secrets can be purged before recovery is possible.",
          remediation="Set `purge_protection_enabled = true`.", references=_docs("key_vault"),
          controls=(azure("8.4"),), kinds=("azurerm_key_vault",)),
    check("SW-AZ-011", "Key Vault reachable from any network", LOW, TF, _keyvault_network,
          description="The vault accepts connections from every network.",
          remediation="Add `network_acls { default_action = \"Deny\" ... }`.",
          references=_docs("key_vault"), kinds=("azurerm_key_vault",)),
    check("SW-AZ-012", "Key Vault key without expiry", LOW, TF,
          attr_missing("expiration_date", "key has no expiration date"),
          description="Keys that never expire are used long after they should be rotated.",
          remediation="Set `expiration_date`.", references=_docs("key_vault_key"),
          controls=(azure("8.1"),), kinds=("azurerm_key_vault_key",)),
    check("SW-AZ-013", "Key Vault secret without expiry", LOW, TF,
          attr_missing("expiration_date", "secret has no expiration date"),
          description="Secrets that never expire are used long after they should be rotated.",
          remediation="Set `expiration_date`.", references=_docs("key_vault_secret"),
          controls=(azure("8.2"),), kinds=("azurerm_key_vault_secret",)),
    check("SW-AZ-014", "App Service allows HTTP", MEDIUM, TF,
          attr_not_true("https_only", "app accepts plain HTTP"),
          description="Traffic to the app can be unencrypted.",
          remediation="Set `https_only = true`.", references=_docs("linux_web_app"),
          controls=(azure("9.2"),), kinds=APP_KINDS),
    check("SW-AZ-015", "App Service allows old TLS", MEDIUM, TF, _app_tls,
          description="TLS 1.0/1.1 are deprecated and weak.",
          remediation="Set `site_config { minimum_tls_version = \"1.2\" }`.",
          references=_docs("linux_web_app"), controls=(azure("9.3"),), kinds=APP_KINDS),
    check("SW-AZ-016", "App Service allows plain FTP", MEDIUM, TF, _app_ftp,
          description="Deployment credentials travel in clear text over FTP.",
          remediation="Set `ftps_state = \"FtpsOnly\"` or `\"Disabled\"`.",
          references=_docs("linux_web_app"), controls=(azure("9.10"),), kinds=APP_KINDS),
    check("SW-AZ-017", "PostgreSQL server without SSL enforcement", MEDIUM, TF,
          attr_false("ssl_enforcement_enabled", "SSL enforcement is disabled"),
          description="Clients may connect without encryption.",
          remediation="Set `ssl_enforcement_enabled = true`.",
          references=_docs("postgresql_server"), controls=(azure("4.3.1"),),
          kinds=("azurerm_postgresql_server",)),
    check("SW-AZ-018", "MySQL server without SSL enforcement", MEDIUM, TF,
          attr_false("ssl_enforcement_enabled", "SSL enforcement is disabled"),
          description="Clients may connect without encryption.",
          remediation="Set `ssl_enforcement_enabled = true`.",
          references=_docs("mysql_server"), controls=(azure("4.3.2"),),
          kinds=("azurerm_mysql_server", "azurerm_mariadb_server")),
    check("SW-AZ-019", "SQL server reachable from public networks", MEDIUM, TF,
          attr_true("public_network_access_enabled", "public network access is enabled"),
          description="The server endpoint is reachable from the internet.",
          remediation="Set `public_network_access_enabled = false` and use private endpoints.",
          references=_docs("mssql_server"), kinds=("azurerm_mssql_server",)),
    check("SW-AZ-020", "AKS cluster without RBAC", HIGH, TF, _aks_rbac,
          description="Without RBAC every authenticated user is effectively an administrator.",
          remediation="Enable `role_based_access_control_enabled`.",
          references=_docs("kubernetes_cluster"), kinds=("azurerm_kubernetes_cluster",)),
    check("SW-AZ-021", "AKS cluster without network policy", LOW, TF, _aks_network_policy,
          description="NetworkPolicy objects are ignored without a policy plugin.",
          remediation="Set `network_profile { network_policy = \"azure\" }` (or calico).",
          references=_docs("kubernetes_cluster"), kinds=("azurerm_kubernetes_cluster",)),
    check("SW-AZ-022", "Linux VM allows password login", MEDIUM, TF,
          attr_false("disable_password_authentication", "password authentication is enabled"),
          description="Passwords can be brute-forced; SSH keys cannot.",
          remediation="Set `disable_password_authentication = true` and use SSH keys.",
          references=_docs("linux_virtual_machine"), kinds=("azurerm_linux_virtual_machine",)),
    check("SW-AZ-023", "Container registry admin user enabled", MEDIUM, TF,
          attr_true("admin_enabled", "the shared admin account is enabled"),
          description="The admin account is a shared credential with push rights.",
          remediation="Set `admin_enabled = false`; use Entra ID identities.",
          references=_docs("container_registry"), kinds=("azurerm_container_registry",)),
    check("SW-AZ-024", "Azure credentials in provider block", CRITICAL, TF, _provider_secret,
          description="Client secrets in configuration end up in version control and state.",
          remediation="Use environment variables or managed identities.",
          references=("https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs",),
          kinds=("provider.azurerm",)),
)
