"""Terraform Azure plants."""

from __future__ import annotations

from typing import Any

from tests.helpers.misconfig import Mutation, Plant
from tests.helpers.misconfig.hcl import DELETE, Block, Raw, body, tf_plant

RG = {"resource_group_name": "shop", "location": "westeurope"}
STORAGE = {"name": "shopdata", **RG, "account_tier": "Standard",
           "account_replication_type": "GRS", "https_traffic_only_enabled": True,
           "min_tls_version": "TLS1_2", "allow_nested_items_to_be_public": False,
           "network_rules": Block(default_action="Deny", ip_rules=["203.0.113.0/24"])}
RULE = {"name": "web", "priority": 100, "direction": "Inbound", "access": "Allow",
        "protocol": "Tcp", "source_port_range": "*", "destination_port_range": "443",
        "source_address_prefix": "10.0.0.0/8", "destination_address_prefix": "*",
        "resource_group_name": "shop", "network_security_group_name": "web"}
VAULT = {"name": "shopkv", **RG, "tenant_id": Raw("var.tenant_id"), "sku_name": "standard",
         "purge_protection_enabled": True, "soft_delete_retention_days": 90,
         "network_acls": Block(default_action="Deny", bypass="AzureServices")}
APP = {"name": "shop", **RG, "service_plan_id": Raw("azurerm_service_plan.main.id"),
       "https_only": True, "site_config": Block(minimum_tls_version="1.2", ftps_state="Disabled")}
AKS = {"name": "shop", **RG, "dns_prefix": "shop", "role_based_access_control_enabled": True,
       "network_profile": Block(network_plugin="azure", network_policy="azure"),
       "default_node_pool": Block(name="default", vm_size="Standard_D2_v5", node_count=2),
       "identity": Block(type="SystemAssigned")}
VM = {"name": "vm", **RG, "size": "Standard_B2s", "admin_username": "azureuser",
      "disable_password_authentication": True,
      "admin_ssh_key": Block(username="azureuser", public_key=Raw('file("id.pub")'))}
PG = {"name": "shop-pg", **RG, "sku_name": "GP_Gen5_2", "version": "11",
      "ssl_enforcement_enabled": True}


def _nsg(rule: dict[str, Any]) -> dict[str, Any]:
    inner = {k: v for k, v in rule.items() if k not in ("resource_group_name",
                                                        "network_security_group_name")}
    return {"name": "web", **RG, "security_rule": [Block(**inner)]}


def _provider_plant() -> Plant:
    def make(attrs: dict[str, Any]) -> Mutation:
        def run(model: list[str], n: int) -> str:
            model.append(f'provider "azurerm" {{\n  alias = "p{n}"\n  features {{}}\n'
                         f'{body(attrs)}}}\n')
            return "provider.azurerm"
        return run
    return Plant("SW-AZ-024", "terraform", make({"client_id": "00000000-0000-0000-0000-0",
                                                 "client_secret": "q8Q~aVeryL0ngClientSecret"}),
                 make({"use_msi": True}))


PLANTS = [
    tf_plant("SW-AZ-001", "azurerm_storage_account", STORAGE,
             {"https_traffic_only_enabled": False}, {"https_traffic_only_enabled": True}),
    tf_plant("SW-AZ-002", "azurerm_storage_account", STORAGE, {"min_tls_version": "TLS1_0"},
             {"min_tls_version": "TLS1_2"}),
    tf_plant("SW-AZ-003", "azurerm_storage_account", STORAGE,
             {"allow_nested_items_to_be_public": True}, {"shared_access_key_enabled": False}),
    tf_plant("SW-AZ-004", "azurerm_storage_container", {
        "name": "data", "storage_account_name": Raw("azurerm_storage_account.main.name"),
        "container_access_type": "private"}, {"container_access_type": "blob"}, {}),
    tf_plant("SW-AZ-005", "azurerm_storage_account", STORAGE,
             {"network_rules": Block(default_action="Allow")},
             {"network_rules": Block(default_action="Deny", bypass=["AzureServices"])}),
    tf_plant("SW-AZ-006", "azurerm_network_security_rule", RULE,
             {"destination_port_range": "22", "source_address_prefix": "*"},
             {"destination_port_range": "22"}),
    tf_plant("SW-AZ-007", "azurerm_network_security_group", _nsg(RULE),
             _nsg({**RULE, "destination_port_range": "3389",
                   "source_address_prefix": "Internet"}),
             _nsg({**RULE, "destination_port_range": "3389",
                   "source_address_prefix": "VirtualNetwork"})),
    tf_plant("SW-AZ-008", "azurerm_network_security_rule", RULE,
             {"destination_port_range": "*", "source_address_prefix": "0.0.0.0/0"},
             {"destination_port_range": "*", "source_address_prefix": "0.0.0.0/0",
              "access": "Deny"}),
    tf_plant("SW-AZ-009", "azurerm_mssql_firewall_rule", {
        "name": "office", "server_id": Raw("azurerm_mssql_server.main.id"),
        "start_ip_address": "203.0.113.1", "end_ip_address": "203.0.113.254"},
        {"start_ip_address": "0.0.0.0", "end_ip_address": "255.255.255.255"},
        {"start_ip_address": "0.0.0.0", "end_ip_address": "0.0.0.0"}),
    tf_plant("SW-AZ-010", "azurerm_key_vault", VAULT, {"purge_protection_enabled": False},
             {"enable_rbac_authorization": True}),
    tf_plant("SW-AZ-011", "azurerm_key_vault", VAULT,
             {"network_acls": Block(default_action="Allow", bypass="AzureServices")},
             {"network_acls": Block(default_action="Deny", bypass="None")}),
    tf_plant("SW-AZ-012", "azurerm_key_vault_key", {
        "name": "data", "key_vault_id": Raw("azurerm_key_vault.main.id"), "key_type": "RSA",
        "key_size": 2048, "key_opts": ["decrypt", "encrypt"],
        "expiration_date": "2027-12-31T00:00:00Z"}, {"expiration_date": DELETE},
        {"expiration_date": "2026-06-30T00:00:00Z"}),
    tf_plant("SW-AZ-013", "azurerm_key_vault_secret", {
        "name": "db", "value": Raw("var.db_password"),
        "key_vault_id": Raw("azurerm_key_vault.main.id"),
        "expiration_date": "2027-12-31T00:00:00Z"}, {"expiration_date": DELETE},
        {"expiration_date": "2026-01-31T00:00:00Z"}),
    tf_plant("SW-AZ-014", "azurerm_linux_web_app", APP, {"https_only": False},
             {"https_only": True}),
    tf_plant("SW-AZ-015", "azurerm_linux_web_app", APP,
             {"site_config": Block(minimum_tls_version="1.0", ftps_state="Disabled")},
             {"site_config": Block(minimum_tls_version="1.3", ftps_state="Disabled")}),
    tf_plant("SW-AZ-016", "azurerm_windows_web_app", APP,
             {"site_config": Block(minimum_tls_version="1.2", ftps_state="AllAllowed")},
             {"site_config": Block(minimum_tls_version="1.2", ftps_state="FtpsOnly")}),
    tf_plant("SW-AZ-017", "azurerm_postgresql_server", PG, {"ssl_enforcement_enabled": False},
             {"ssl_minimal_tls_version_enforced": "TLS1_2"}),
    tf_plant("SW-AZ-018", "azurerm_mysql_server", PG, {"ssl_enforcement_enabled": False},
             {"ssl_enforcement_enabled": True}),
    tf_plant("SW-AZ-019", "azurerm_mssql_server", {
        "name": "shop-sql", **RG, "version": "12.0", "administrator_login": "shop",
        "public_network_access_enabled": False}, {"public_network_access_enabled": True},
        {"minimum_tls_version": "1.2"}),
    tf_plant("SW-AZ-020", "azurerm_kubernetes_cluster", AKS,
             {"role_based_access_control_enabled": False},
             {"role_based_access_control_enabled": True}),
    tf_plant("SW-AZ-021", "azurerm_kubernetes_cluster", AKS,
             {"network_profile": Block(network_plugin="kubenet")},
             {"network_profile": Block(network_plugin="kubenet", network_policy="calico")}),
    tf_plant("SW-AZ-022", "azurerm_linux_virtual_machine", VM,
             {"disable_password_authentication": False},
             {"disable_password_authentication": True}),
    tf_plant("SW-AZ-023", "azurerm_container_registry", {
        "name": "shopacr", **RG, "sku": "Premium", "admin_enabled": False},
        {"admin_enabled": True}, {"admin_enabled": False}),
    _provider_plant(),
]
