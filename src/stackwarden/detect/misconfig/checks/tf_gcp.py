"""Terraform Google Cloud: storage buckets, firewall rules, Cloud SQL, IAM, KMS, compute
instances, GKE, BigQuery, DNS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from stackwarden.detect.misconfig.checks import CRITICAL, HIGH, LOW, MEDIUM, check
from stackwarden.detect.misconfig.checks.tf_common import (
    GCP_DOCS,
    TF,
    at,
    attr_not_true,
    attr_true,
    blocks,
    first,
)
from stackwarden.detect.misconfig.checks.util import (
    as_list,
    covers,
    is_false,
    is_open_cidr,
    is_true,
    parse_port_spec,
    unknown,
)
from stackwarden.detect.misconfig.controls import gcp
from stackwarden.detect.misconfig.model import Document, Hit, TestFunc

PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
BUCKET_IAM = ("google_storage_bucket_iam_member", "google_storage_bucket_iam_binding",
              "google_storage_bucket_access_control", "google_storage_default_object_access_control")
PROJECT_IAM = ("google_project_iam_member", "google_project_iam_binding")
ANY_IAM_MEMBER = ("google_project_iam_member", "google_project_iam_binding",
                  "google_cloud_run_service_iam_member", "google_cloud_run_service_iam_binding",
                  "google_cloudfunctions_function_iam_member",
                  "google_cloudfunctions_function_iam_binding",
                  "google_pubsub_topic_iam_member", "google_pubsub_topic_iam_binding",
                  "google_kms_crypto_key_iam_member", "google_kms_crypto_key_iam_binding")
SQL = ("google_sql_database_instance",)
INSTANCE = ("google_compute_instance", "google_compute_instance_template")
ROTATION_MAX_SECONDS = 90 * 24 * 3600


def _members(doc: Document) -> list[str]:
    return [str(m) for m in as_list(doc.body.get("members")) + as_list(doc.body.get("member"))
            + as_list(doc.body.get("entity"))]


def _public_bucket(doc: Document) -> Iterator[Hit]:
    for member in _members(doc):
        if member in PUBLIC_MEMBERS:
            yield at(doc, f"bucket grants access to {member}",
                     "members" if "members" in doc.body else "member")
            return


def _public_iam(doc: Document) -> Iterator[Hit]:
    yield from _public_bucket(doc)


def _firewall_ports(doc: Document) -> list[tuple[int, int]]:
    """Port ranges an ingress ALLOW firewall opens to 0.0.0.0/0 ([] when none)."""
    body = doc.body
    if str(body.get("direction", "INGRESS")).upper() != "INGRESS" or is_true(body.get("disabled")):
        return []
    if not any(is_open_cidr(s) for s in as_list(body.get("source_ranges"))):
        return []
    ranges: list[tuple[int, int]] = []
    for allow in blocks(body, "allow"):
        protocol = str(allow.get("protocol", "")).lower()
        ports = as_list(allow.get("ports"))
        if protocol == "all" or (protocol in ("tcp", "udp", "sctp") and not ports):
            ranges.append((0, 65535))
        else:
            ranges.extend(r for r in (parse_port_spec(p) for p in ports) if r is not None)
    return ranges


def _firewall(port: int | None, label: str) -> TestFunc:
    def test(doc: Document) -> Iterator[Hit]:
        ranges = _firewall_ports(doc)
        everything = (0, 65535) in ranges
        if (port is None and everything) or (port is not None and not everything and
                                             any(covers(r, port) for r in ranges)):
            yield at(doc, f"firewall allows {label} from 0.0.0.0/0", "source_ranges")
    return test


def _ip_config(doc: Document) -> dict[str, Any]:
    config = first(doc.body, "settings", "ip_configuration")
    return config if isinstance(config, dict) else {}


def _sql_public_ip(doc: Document) -> Iterator[Hit]:
    config = _ip_config(doc)
    enabled = config.get("ipv4_enabled")
    if is_true(enabled) or (enabled is None and not config.get("private_network")):
        yield at(doc, "instance has a public IPv4 address", "settings")


def _sql_open(doc: Document) -> Iterator[Hit]:
    for network in blocks(_ip_config(doc), "authorized_networks"):
        if is_open_cidr(network.get("value")):
            yield at(doc, "authorized network 0.0.0.0/0 admits the whole internet", "settings")
            return


def _sql_ssl(doc: Document) -> Iterator[Hit]:
    config = _ip_config(doc)
    mode = config.get("ssl_mode")
    if mode in ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED") or \
            is_true(config.get("require_ssl")) or unknown(mode):
        return
    yield at(doc, "connections without SSL are accepted", "settings")


def _sql_backup(doc: Document) -> Iterator[Hit]:
    if is_false(first(doc.body, "settings", "backup_configuration", "enabled")) or \
            not blocks(first(doc.body, "settings") or {}, "backup_configuration"):
        yield at(doc, "automated backups are not enabled", "settings")


def _sa_key(doc: Document) -> Iterator[Hit]:
    yield at(doc, "a user-managed service account key is created")


def _primitive_role(doc: Document) -> Iterator[Hit]:
    role = doc.body.get("role")
    if role in ("roles/owner", "roles/editor") and any(
            m.startswith("serviceAccount:") for m in _members(doc)):
        yield at(doc, f"a service account is granted {role}", "role")


def _kms_rotation(doc: Document) -> Iterator[Hit]:
    period = doc.body.get("rotation_period")
    if unknown(period):
        return
    seconds = None
    if isinstance(period, str) and period.endswith("s"):
        try:
            seconds = float(period[:-1])
        except ValueError:
            seconds = None
    if period is None or (seconds is not None and seconds > ROTATION_MAX_SECONDS):
        yield at(doc, "key is not rotated at least every 90 days", "rotation_period")


def _default_sa(doc: Document) -> Iterator[Hit]:
    for account in blocks(doc.body, "service_account"):
        email = str(account.get("email", ""))
        if email.endswith("-compute@developer.gserviceaccount.com") or email == "default":
            yield at(doc, "instance runs as the default compute service account",
                     "service_account")


def _full_scope(doc: Document) -> Iterator[Hit]:
    for account in blocks(doc.body, "service_account"):
        if "cloud-platform" in " ".join(str(s) for s in as_list(account.get("scopes"))):
            yield at(doc, "instance service account has the cloud-platform (all APIs) scope",
                     "service_account")


def _metadata(doc: Document) -> dict[str, Any]:
    meta = doc.body.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _serial_port(doc: Document) -> Iterator[Hit]:
    if is_true(_metadata(doc).get("serial-port-enable")):
        yield at(doc, "interactive serial port access is enabled", "metadata")


def _project_ssh_keys(doc: Document) -> Iterator[Hit]:
    if not is_true(_metadata(doc).get("block-project-ssh-keys")):
        yield at(doc, "project-wide SSH keys can log in (block-project-ssh-keys not set)",
                 "metadata")


def _os_login(doc: Document) -> Iterator[Hit]:
    if is_false(_metadata(doc).get("enable-oslogin")):
        yield at(doc, "OS Login is disabled", "metadata")


def _public_ip(doc: Document) -> Iterator[Hit]:
    for nic in blocks(doc.body, "network_interface"):
        if blocks(nic, "access_config"):
            yield at(doc, "instance has an external IP address", "network_interface")
            return


def _shielded(doc: Document) -> Iterator[Hit]:
    config = first(doc.body, "shielded_instance_config")
    if not isinstance(config, dict) or not is_true(config.get("enable_secure_boot")):
        yield at(doc, "Shielded VM secure boot is not enabled", "shielded_instance_config")


def _bq_public(doc: Document) -> Iterator[Hit]:
    for access in blocks(doc.body, "access"):
        if access.get("special_group") in ("allAuthenticatedUsers", "allUsers") or \
                access.get("iam_member") in PUBLIC_MEMBERS:
            yield at(doc, "dataset is readable by everyone", "access")
            return


def _subnet_flow_logs(doc: Document) -> Iterator[Hit]:
    if not blocks(doc.body, "log_config"):
        yield at(doc, "subnet has no flow logs (log_config)")


def _dnssec(doc: Document) -> Iterator[Hit]:
    state = first(doc.body, "dnssec_config", "state")
    if doc.body.get("visibility", "public") == "public" and state in (None, "off"):
        yield at(doc, "DNSSEC is off for a public zone", "dnssec_config")


def _gke_legacy_abac(doc: Document) -> Iterator[Hit]:
    if is_true(doc.body.get("enable_legacy_abac")):
        yield at(doc, "legacy ABAC authorisation is enabled", "enable_legacy_abac")


def _gke_master_networks(doc: Document) -> Iterator[Hit]:
    if not blocks(doc.body, "master_authorized_networks_config"):
        yield at(doc, "the control plane accepts connections from any address")


def _docs(name: str) -> tuple[str, ...]:
    return (GCP_DOCS + name,)


FW = ("google_compute_firewall",)
CHECKS = (
    check("SW-GCP-001", "Storage bucket is public", HIGH, TF, _public_bucket,
          description="allUsers/allAuthenticatedUsers can read (or write) the bucket.",
          remediation="Remove the public member; grant named principals.",
          references=_docs("storage_bucket_iam"), controls=(gcp("5.1"),), kinds=BUCKET_IAM),
    check("SW-GCP-002", "Uniform bucket-level access disabled", MEDIUM, TF,
          attr_not_true("uniform_bucket_level_access", "object ACLs are in use"),
          description="Object ACLs make access hard to audit and easy to open by mistake.",
          remediation="Set `uniform_bucket_level_access = true`.",
          references=_docs("storage_bucket"), controls=(gcp("5.2"),),
          kinds=("google_storage_bucket",)),
    check("SW-GCP-003", "Firewall allows SSH from the internet", HIGH, TF, _firewall(22, "SSH"),
          description="Port 22 open to 0.0.0.0/0 invites brute force and exploitation.",
          remediation="Restrict source_ranges or use IAP TCP forwarding.",
          references=_docs("compute_firewall"), controls=(gcp("3.6"),), kinds=FW),
    check("SW-GCP-004", "Firewall allows RDP from the internet", HIGH, TF,
          _firewall(3389, "RDP"),
          description="Port 3389 open to 0.0.0.0/0 invites brute force and exploitation.",
          remediation="Restrict source_ranges or use IAP TCP forwarding.",
          references=_docs("compute_firewall"), controls=(gcp("3.7"),), kinds=FW),
    check("SW-GCP-005", "Firewall allows all ports from the internet", CRITICAL, TF,
          _firewall(None, "every port"),
          description="Every port of the targeted instances is reachable from anywhere.",
          remediation="Allow only the needed protocols and ports.",
          references=_docs("compute_firewall"), kinds=FW),
    check("SW-GCP-006", "Cloud SQL instance has a public IP", MEDIUM, TF, _sql_public_ip,
          description="A public address exposes the database endpoint to the internet.",
          remediation="Set `ipv4_enabled = false` and use a private network.",
          references=_docs("sql_database_instance"), controls=(gcp("6.6"),), kinds=SQL),
    check("SW-GCP-007", "Cloud SQL open to the world", HIGH, TF, _sql_open,
          description="An authorized network of 0.0.0.0/0 admits any client.",
          remediation="List specific client networks.",
          references=_docs("sql_database_instance"), controls=(gcp("6.5"),), kinds=SQL),
    check("SW-GCP-008", "Cloud SQL does not require SSL", MEDIUM, TF, _sql_ssl,
          description="Clients may connect without encryption.",
          remediation="Set `ssl_mode = \"ENCRYPTED_ONLY\"`.",
          references=_docs("sql_database_instance"), controls=(gcp("6.4"),), kinds=SQL),
    check("SW-GCP-009", "Cloud SQL backups disabled", LOW, TF, _sql_backup,
          description="Without backups data cannot be restored.",
          remediation="Add `backup_configuration { enabled = true }`.",
          references=_docs("sql_database_instance"), controls=(gcp("6.7"),), kinds=SQL),
    check("SW-GCP-010", "User-managed service account key", MEDIUM, TF, _sa_key,
          description="Exported keys are long-lived credentials that leak.",
          remediation="Use workload identity or short-lived credentials.",
          references=_docs("google_service_account_key"), controls=(gcp("1.4"),),
          kinds=("google_service_account_key",)),
    check("SW-GCP-011", "Service account with owner or editor role", HIGH, TF, _primitive_role,
          description="Primitive roles give a service account near-total project control.",
          remediation="Grant predefined or custom roles with the permissions needed.",
          references=_docs("google_project_iam"), controls=(gcp("1.5"),), kinds=PROJECT_IAM),
    check("SW-GCP-012", "IAM grants access to allUsers", HIGH, TF, _public_iam,
          description="allUsers/allAuthenticatedUsers include anyone with (or without) a "
                      "Google account.",
          remediation="Grant named principals only.", references=_docs("google_project_iam"),
          kinds=ANY_IAM_MEMBER),
    check("SW-GCP-013", "KMS key not rotated every 90 days", MEDIUM, TF, _kms_rotation,
          description="Keys that are not rotated protect more data for longer if leaked.",
          remediation="Set `rotation_period = \"7776000s\"` or less.",
          references=_docs("kms_crypto_key"), controls=(gcp("1.10"),),
          kinds=("google_kms_crypto_key",)),
    check("SW-GCP-014", "Instance uses the default service account", MEDIUM, TF, _default_sa,
          description="The default compute account has the project Editor role.",
          remediation="Create a dedicated service account with minimal roles.",
          references=_docs("compute_instance"), controls=(gcp("4.1"),), kinds=INSTANCE),
    check("SW-GCP-015", "Instance has full API access scope", HIGH, TF, _full_scope,
          description="The cloud-platform scope lets the instance call every API its account "
                      "can.",
          remediation="Use specific scopes and a least-privilege account.",
          references=_docs("compute_instance"), controls=(gcp("4.2"),), kinds=INSTANCE),
    check("SW-GCP-016", "Serial port access enabled", MEDIUM, TF, _serial_port,
          description="The interactive serial console bypasses network controls.",
          remediation="Remove `serial-port-enable` from metadata.",
          references=_docs("compute_instance"), controls=(gcp("4.5"),), kinds=INSTANCE),
    check("SW-GCP-017", "Project-wide SSH keys allowed", LOW, TF, _project_ssh_keys,
          description="Any project-wide SSH key can log in to the instance.",
          remediation="Set metadata `block-project-ssh-keys = true`.",
          references=_docs("compute_instance"), controls=(gcp("4.3"),), kinds=INSTANCE),
    check("SW-GCP-018", "OS Login disabled", LOW, TF, _os_login,
          description="Without OS Login SSH access is not tied to IAM identities.",
          remediation="Remove `enable-oslogin = false`.",
          references=_docs("compute_instance"), controls=(gcp("4.4"),), kinds=INSTANCE),
    check("SW-GCP-019", "IP forwarding enabled", MEDIUM, TF,
          attr_true("can_ip_forward", "instance can forward packets"),
          description="A forwarding instance can route traffic around firewall rules.",
          remediation="Set `can_ip_forward = false`.", references=_docs("compute_instance"),
          controls=(gcp("4.6"),), kinds=INSTANCE),
    check("SW-GCP-020", "Instance has a public IP", LOW, TF, _public_ip,
          description="An external address exposes the instance to the internet.",
          remediation="Remove access_config; use Cloud NAT and IAP.",
          references=_docs("compute_instance"), controls=(gcp("4.9"),), kinds=INSTANCE),
    check("SW-GCP-021", "Shielded VM secure boot disabled", LOW, TF, _shielded,
          description="Without secure boot, boot-level malware is not blocked.",
          remediation="Add `shielded_instance_config { enable_secure_boot = true }`.",
          references=_docs("compute_instance"), controls=(gcp("4.8"),), kinds=INSTANCE),
    check("SW-GCP-022", "BigQuery dataset is public", HIGH, TF, _bq_public,
          description="Anyone can read the dataset's tables.",
          remediation="Remove allUsers/allAuthenticatedUsers access.",
          references=_docs("bigquery_dataset"), controls=(gcp("7.1"),),
          kinds=("google_bigquery_dataset",)),
    check("SW-GCP-023", "Subnet flow logs disabled", LOW, TF, _subnet_flow_logs,
          description="Network traffic in the subnet cannot be investigated.",
          remediation="Add a `log_config` block.", references=_docs("compute_subnetwork"),
          controls=(gcp("3.8"),), kinds=("google_compute_subnetwork",)),
    check("SW-GCP-024", "DNSSEC disabled", MEDIUM, TF, _dnssec,
          description="Responses for the zone can be spoofed.",
          remediation="Add `dnssec_config { state = \"on\" }`.",
          references=_docs("dns_managed_zone"), controls=(gcp("3.3"),),
          kinds=("google_dns_managed_zone",)),
    check("SW-GCP-025", "GKE legacy ABAC enabled", HIGH, TF, _gke_legacy_abac,
          description="Legacy ABAC grants broad static permissions and bypasses RBAC.",
          remediation="Set `enable_legacy_abac = false`.",
          references=_docs("container_cluster"), kinds=("google_container_cluster",)),
    check("SW-GCP-026", "GKE control plane open to any address", LOW, TF,
          _gke_master_networks,
          description="Without master authorized networks the API server is reachable from "
                      "anywhere.",
          remediation="Add `master_authorized_networks_config`.",
          references=_docs("container_cluster"), kinds=("google_container_cluster",)),
)
