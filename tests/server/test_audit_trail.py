"""The audit trail against direct database tampering: each change is detected and the first bad
sequence number named; inclusion proofs; evidence bundles verified offline."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from stackwarden.audit.bundle import verify_bundle
from stackwarden.audit.merkle import verify_inclusion
from stackwarden.audit.signing import key_id, load_public_key, sign_checkpoint
from stackwarden.server.audit_store import export_bundle, verify_database
from tests.server.conftest import Server
from tests.server.helpers import finding, report


def fill(server: Server, scans: int = 11) -> int:
    """Produce audit entries (each scan is one); returns the log length."""
    for i in range(scans):
        r = server.post("/api/v1/scans", json=report([finding(f"f{i}")],
                                                     digest=f"sha256:{i:064d}"))
        assert r.status_code == 201, r.text
    return server.get("/api/v1/audit/verify").json()["entries"]  # type: ignore[no-any-return]


def sql(server: Server, *statements: str, params: dict[str, object] | None = None) -> None:
    """Run statements as an attacker with database access: append-only triggers dropped first."""
    with server.ctx.db.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_entries_no_update")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_entries_no_delete")
        else:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_entries_append_only "
                                 "ON audit_entries")
        for statement in statements:
            conn.execute(text(statement), params or {})


def rehash_from(server: Server, seq: int) -> None:
    """A smarter attacker: change entry `seq`, then recompute every later hash."""
    from stackwarden.audit.chain import AuditEntry
    from stackwarden.server.audit_store import iter_entries

    with server.ctx.db.session() as session:
        entries = list(iter_entries(session))
    prev = entries[seq - 2].hash
    for entry in entries[seq - 1:]:
        details = {**entry.details, "tampered": True} if entry.seq == seq else entry.details
        fresh = AuditEntry(entry.seq, entry.time, entry.actor, entry.action, entry.object,
                           details, prev)
        new_hash = fresh.compute_hash()
        sql(server, "UPDATE audit_entries SET details = :d, prev_hash = :p, hash = :h "
            "WHERE seq = :s", params={"d": json.dumps(details, sort_keys=True,
                                                      separators=(",", ":")),
                                      "p": prev, "h": new_hash, "s": entry.seq})
        prev = new_hash


def truncate_and_resign(server: Server, keep: int) -> None:
    """Cut the tail, drop the checkpoints that covered it, sign a new head with another key."""
    from stackwarden.audit.merkle import root_from_leaf_hashes

    sql(server, f"DELETE FROM audit_entries WHERE seq > {keep}",
        f"DELETE FROM audit_checkpoints WHERE tree_size > {keep}")
    with server.ctx.db.engine.connect() as conn:
        hashes = [bytes.fromhex(h) for (h,) in conn.execute(
            text("SELECT hash FROM audit_entries ORDER BY seq"))]
    forged = sign_checkpoint(Ed25519PrivateKey.generate(), keep,
                             root_from_leaf_hashes(hashes).hex(), "2030-01-01T00:00:00Z")
    sql(server, "INSERT INTO audit_checkpoints (tree_size, root_hash, time, key_id, signature) "
        "VALUES (:n, :r, :t, :k, :s)", params={"n": keep, "r": forged.root_hash,
                                                 "t": forged.time, "k": forged.key_id,
                                                 "s": forged.signature})


SWAP = ("UPDATE audit_entries SET details = CASE seq WHEN 7 THEN (SELECT details FROM "
        "audit_entries WHERE seq = 9) ELSE (SELECT details FROM audit_entries WHERE seq = 7) END, "
        "hash = CASE seq WHEN 7 THEN (SELECT hash FROM audit_entries WHERE seq = 9) ELSE "
        "(SELECT hash FROM audit_entries WHERE seq = 7) END, object = CASE seq WHEN 7 THEN "
        "(SELECT object FROM audit_entries WHERE seq = 9) ELSE (SELECT object FROM audit_entries "
        "WHERE seq = 7) END WHERE seq IN (7, 9)")

# (name, tampering, first bad sequence number, words the problem must contain)
TAMPERING: list[tuple[str, Callable[[Server], None], int, str]] = [
    ("update one row", lambda s: sql(s, "UPDATE audit_entries SET actor = 'mallory' "
                                        "WHERE seq = 7"), 7, "modified"),
    ("delete one row", lambda s: sql(s, "DELETE FROM audit_entries WHERE seq = 7"), 7,
     "missing"),
    ("swap two rows", lambda s: sql(s, SWAP), 7, "modified"),
    ("change the hash too", lambda s: sql(s, "UPDATE audit_entries SET actor = 'mallory', "
                                             "hash = :h WHERE seq = 8",
                                          params={"h": "0" * 64}), 8, "modified"),
    ("change one and re-chain the rest", lambda s: rehash_from(s, 7), 6, "do not match"),
    ("truncate the tail and re-sign with another key",
     lambda s: truncate_and_resign(s, 8), 6, "unknown key"),
    ("truncate the tail and drop checkpoints", lambda s: sql(
        s, "DELETE FROM audit_entries WHERE seq > 8"), 9, "entries removed"),
]


@pytest.mark.parametrize(("tamper", "first_bad", "words"),
                         [t[1:] for t in TAMPERING], ids=[t[0] for t in TAMPERING])
def test_tampering_detected(server: Server, tamper: Callable[[Server], None], first_bad: int,
                            words: str) -> None:
    fill(server)
    before = verify_database(server.ctx.db, server.ctx.audit.trusted_keys)
    assert before.ok, before.problems
    assert before.verified_through >= 10  # checkpoint every 5 entries
    tamper(server)
    after = verify_database(server.ctx.db, server.ctx.audit.trusted_keys)
    assert not after.ok
    assert after.first_bad_seq == first_bad, after.problems
    assert words in after.summary(), after.summary()
    api = server.get("/api/v1/audit/verify").json()
    assert api["ok"] is False and api["first_bad_seq"] == first_bad


def test_append_only_in_the_database(server: Server) -> None:
    fill(server, 1)
    from sqlalchemy.exc import DBAPIError

    for statement in ("UPDATE audit_entries SET actor = 'x' WHERE seq = 1",
                      "DELETE FROM audit_entries WHERE seq = 1"):
        with pytest.raises(DBAPIError, match="append-only"), \
                server.ctx.db.engine.begin() as conn:
            conn.exec_driver_sql(statement)


def test_inclusion_proof(server: Server) -> None:
    fill(server, 6)
    for seq in (1, 3, 5):
        proof = server.get(f"/api/v1/audit/proof/{seq}").json()
        cp = proof["checkpoint"]
        assert cp["tree_size"] >= seq
        assert verify_inclusion(proof["leaf_index"], cp["tree_size"],
                                bytes.fromhex(proof["entry"]["hash"]),
                                [bytes.fromhex(h) for h in proof["audit_path"]],
                                bytes.fromhex(cp["root_hash"]))
        keys = server.get("/api/v1/audit/checkpoints").json()["public_keys"]
        assert cp["key_id"] in keys
    assert server.get("/api/v1/audit/proof/999").status_code == 404


def test_evidence_bundle_verifies_offline(server: Server, tmp_path: Path) -> None:
    fill(server, 3)
    r = server.get("/api/v1/audit/export")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    bundle = tmp_path / "evidence.zip"
    bundle.write_bytes(r.content)
    pinned = {key_id(k): k for k in server.ctx.audit.trusted_keys.values()}
    checked = verify_bundle(bundle, pinned)
    assert checked.result.ok, checked.result.problems
    assert checked.reports_checked == 3
    assert checked.result.verified_through == checked.result.entries  # export signs the head
    # the report inside is the one submitted, bound by the hash in the log
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        assert {"manifest.json", "entries.jsonl", "checkpoints.json"} <= set(names)
        report_name = next(n for n in names if n.startswith("reports/"))
        pem = next(n for n in names if n.startswith("keys/"))
        assert key_id(load_public_key(zf.read(pem))) in pinned
    # tamper with a report inside the bundle
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(forged, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == report_name:
                data = data.replace(b'"high"', b'"low"')
            dst.writestr(item, data)
    bad = verify_bundle(forged, pinned)
    assert not bad.result.ok and "report modified" in bad.result.summary()
    # the export itself is audited
    actions = [e["action"] for e in server.get("/api/v1/audit/entries",
                                               params={"limit": 1000}).json()["items"]]
    assert actions[-1] == "audit.export"


def test_bundle_with_another_key_is_refused(server: Server, tmp_path: Path) -> None:
    fill(server, 2)
    path = tmp_path / "b.zip"
    export_bundle(server.ctx.db, server.ctx.audit, path)
    other = Ed25519PrivateKey.generate().public_key()
    result = verify_bundle(path, {key_id(other): other}).result
    assert not result.ok and result.first_bad_seq == 1 and "unknown key" in result.summary()
