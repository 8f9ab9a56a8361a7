"""Terraform Google Cloud plants."""

from __future__ import annotations

from typing import Any

from tests.helpers.misconfig import Mutation, Plant
from tests.helpers.misconfig.hcl import DELETE, Block, Raw, resource, tf_plant

FIREWALL = {"name": "web", "network": "default", "direction": "INGRESS",
            "source_ranges": ["10.0.0.0/8"], "allow": Block(protocol="tcp", ports=["443"])}
SA = "app@shop.iam.gserviceaccount.com"
INSTANCE = {
    "name": "vm", "machine_type": "e2-small", "zone": "europe-west1-b",
    "boot_disk": Block(initialize_params=Block(image="debian-cloud/debian-12")),
    "network_interface": Block(network="default"),
    "service_account": Block(email=SA, scopes=[
        "https://www.googleapis.com/auth/devstorage.read_only"]),
    "metadata": {"block-project-ssh-keys": "true"},
    "shielded_instance_config": Block(enable_secure_boot=True),
}
CLUSTER = {"name": "shop", "location": "europe-west1", "enable_legacy_abac": False,
           "master_authorized_networks_config": Block(cidr_blocks=Block(
               cidr_block="203.0.113.0/24", display_name="office"))}


def _sql(ipv4: bool = False, ssl: str = "ENCRYPTED_ONLY", networks: str | None = None,
         backup: bool = True) -> dict[str, Any]:
    ip = {"ipv4_enabled": ipv4, "private_network": Raw("google_compute_network.main.id"),
          "ssl_mode": ssl}
    if networks:
        ip["authorized_networks"] = Block(name="net", value=networks)
    return {"name": "shop", "database_version": "POSTGRES_16", "region": "europe-west1",
            "settings": Block(tier="db-f1-micro", ip_configuration=Block(**ip),
                              backup_configuration=Block(enabled=backup))}


def _fw(port: str, cidr: str, protocol: str = "tcp") -> dict[str, Any]:
    allow = Block(protocol=protocol) if protocol == "all" else Block(protocol=protocol,
                                                                    ports=[port])
    return {"source_ranges": [cidr], "allow": allow}


def _sa_key_plant() -> Plant:
    def make(rtype: str) -> Mutation:
        def run(model: list[str], n: int) -> str:
            attrs = {"service_account_id": Raw("google_service_account.app.name")} \
                if rtype.endswith("_key") else {"account_id": f"app{n}"}
            model.append(resource(rtype, f"r{n}", attrs))
            return f"{rtype}.r{n}"
        return run
    return Plant("SW-GCP-010", "terraform", make("google_service_account_key"),
                 make("google_service_account"))


PLANTS = [
    tf_plant("SW-GCP-001", "google_storage_bucket_iam_member", {
        "bucket": Raw("google_storage_bucket.data.name"), "role": "roles/storage.objectViewer",
        "member": "group:data@example.com"}, {"member": "allUsers"}, {}),
    tf_plant("SW-GCP-002", "google_storage_bucket", {
        "name": "shop-data", "location": "EU", "uniform_bucket_level_access": True},
        {"uniform_bucket_level_access": False}, {"versioning": Block(enabled=True)}),
    tf_plant("SW-GCP-003", "google_compute_firewall", FIREWALL, _fw("22", "0.0.0.0/0"),
             _fw("22", "35.235.240.0/20")),
    tf_plant("SW-GCP-004", "google_compute_firewall", FIREWALL, _fw("3389", "0.0.0.0/0"),
             _fw("3389", "10.10.0.0/16")),
    tf_plant("SW-GCP-005", "google_compute_firewall", FIREWALL, _fw("", "0.0.0.0/0", "all"),
             _fw("443", "0.0.0.0/0")),
    tf_plant("SW-GCP-006", "google_sql_database_instance", _sql(), _sql(ipv4=True),
             _sql(ipv4=False)),
    tf_plant("SW-GCP-007", "google_sql_database_instance", _sql(),
             _sql(ipv4=True, networks="0.0.0.0/0"), _sql(ipv4=True, networks="203.0.113.0/24"),
             also=("SW-GCP-006",)),
    tf_plant("SW-GCP-008", "google_sql_database_instance", _sql(),
             _sql(ssl="ALLOW_UNENCRYPTED_AND_ENCRYPTED"),
             _sql(ssl="TRUSTED_CLIENT_CERTIFICATE_REQUIRED")),
    tf_plant("SW-GCP-009", "google_sql_database_instance", _sql(), _sql(backup=False),
             _sql(backup=True)),
    _sa_key_plant(),
    tf_plant("SW-GCP-011", "google_project_iam_member", {
        "project": "shop", "role": "roles/storage.objectViewer",
        "member": f"serviceAccount:{SA}"}, {"role": "roles/editor"}, {}),
    tf_plant("SW-GCP-012", "google_cloud_run_service_iam_member", {
        "service": Raw("google_cloud_run_service.api.name"), "location": "europe-west1",
        "role": "roles/run.invoker", "member": f"serviceAccount:{SA}"},
        {"member": "allUsers"}, {"member": "domain:example.com"}),
    tf_plant("SW-GCP-013", "google_kms_crypto_key", {
        "name": "data", "key_ring": Raw("google_kms_key_ring.main.id"),
        "rotation_period": "7776000s"}, {"rotation_period": "31536000s"},
        {"rotation_period": "2592000s"}),
    tf_plant("SW-GCP-014", "google_compute_instance", INSTANCE, {"service_account": Block(
        email="123456-compute@developer.gserviceaccount.com",
        scopes=["https://www.googleapis.com/auth/logging.write"])}, {}),
    tf_plant("SW-GCP-015", "google_compute_instance", INSTANCE, {"service_account": Block(
        email=SA, scopes=["cloud-platform"])},
        {"service_account": Block(email=SA, scopes=["storage-ro"])}),
    tf_plant("SW-GCP-016", "google_compute_instance", INSTANCE, {"metadata": {
        "block-project-ssh-keys": "true", "serial-port-enable": "true"}},
        {"metadata": {"block-project-ssh-keys": "true", "serial-port-enable": "false"}}),
    tf_plant("SW-GCP-017", "google_compute_instance", INSTANCE, {"metadata": {
        "enable-oslogin": "true"}}, {"metadata": {"block-project-ssh-keys": True,
                                                  "enable-oslogin": "true"}}),
    tf_plant("SW-GCP-018", "google_compute_instance", INSTANCE, {"metadata": {
        "block-project-ssh-keys": "true", "enable-oslogin": "false"}},
        {"metadata": {"block-project-ssh-keys": "true", "enable-oslogin": "TRUE"}}),
    tf_plant("SW-GCP-019", "google_compute_instance", INSTANCE, {"can_ip_forward": True},
             {"can_ip_forward": False}),
    tf_plant("SW-GCP-020", "google_compute_instance", INSTANCE, {"network_interface": Block(
        network="default", access_config=Block())},
        {"network_interface": Block(network="default", subnetwork="private")}),
    tf_plant("SW-GCP-021", "google_compute_instance", INSTANCE, {
        "shielded_instance_config": Block(enable_secure_boot=False)},
        {"shielded_instance_config": Block(enable_secure_boot=True, enable_vtpm=True)}),
    tf_plant("SW-GCP-022", "google_bigquery_dataset", {
        "dataset_id": "sales", "location": "EU",
        "access": Block(role="READER", special_group="projectReaders")},
        {"access": Block(role="READER", special_group="allAuthenticatedUsers")}, {}),
    tf_plant("SW-GCP-023", "google_compute_subnetwork", {
        "name": "app", "ip_cidr_range": "10.2.0.0/16", "region": "europe-west1",
        "network": Raw("google_compute_network.main.id"),
        "log_config": Block(aggregation_interval="INTERVAL_10_MIN")},
        {"log_config": DELETE}, {"log_config": Block(flow_sampling=0.5)}),
    tf_plant("SW-GCP-024", "google_dns_managed_zone", {
        "name": "shop", "dns_name": "shop.example.com.", "dnssec_config": Block(state="on")},
        {"dnssec_config": Block(state="off")}, {"visibility": "private", "dnssec_config":
                                                Block(state="off")}),
    tf_plant("SW-GCP-025", "google_container_cluster", CLUSTER, {"enable_legacy_abac": True},
             {"enable_legacy_abac": False}),
    tf_plant("SW-GCP-026", "google_container_cluster", CLUSTER,
             {"master_authorized_networks_config": DELETE}, {}),
]
