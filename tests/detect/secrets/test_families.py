"""One table per rule family: true positives (rule and secret) and false positives (nothing)."""

from __future__ import annotations

import base64
import random

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from stackwarden.core.findings import Severity
from stackwarden.detect.secrets.engine import Engine
from tests.detect.secrets.conftest import found
from tests.helpers.fake_secrets import GENERATORS, _checksummed, _jwt, _pypi, base62_crc

RNG = random.Random(7)
GHP = _checksummed(RNG, "ghp_")
NPM = _checksummed(RNG, "npm_")
PYPI = _pypi(RNG)
JWT = _jwt(RNG)
AZ_KEY = base64.b64encode(RNG.randbytes(64)).decode()
RSA_PEM = rsa.generate_private_key(65537, 1024).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
    serialization.NoEncryption()).decode()


def _bad_checksum(token: str) -> str:
    body = token[4:34]
    wrong = base62_crc(body[::-1])
    return token[:34] + (wrong if wrong != token[34:] else "000000")


def _openssh_encrypted() -> bytes:
    """An openssh-key-v1 blob encrypted with aes256-ctr/bcrypt (PROTOCOL.key layout)."""
    def string(data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + data

    public = string(b"ssh-ed25519") + string(RNG.randbytes(32))
    blob = (b"openssh-key-v1\x00" + string(b"aes256-ctr") + string(b"bcrypt")
            + string(string(RNG.randbytes(16)) + (16).to_bytes(4, "big"))
            + (1).to_bytes(4, "big") + string(public) + string(RNG.randbytes(160)))
    body = base64.b64encode(blob).decode()
    lines = [body[i:i + 70] for i in range(0, len(body), 70)]
    return ("-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(lines)
            + "\n-----END OPENSSH PRIVATE KEY-----\n").encode()


# (family, path, text, expected [(rule, secret)])
CASES = [
    # cloud
    ("aws", "a.py", 'key = "AKIAZ2XQ7B3KLMN4PQRS"', [("aws-access-token", "AKIAZ2XQ7B3KLMN4PQRS")]),
    ("aws", "a.py", 'key = "AKIAIOSFODNN7EXAMPLE"', []),  # AWS's documentation placeholder
    ("aws", "a.py", 'key = "AKIA1234"', []),
    ("aws", "a.py", ("aws_access_key_id=AKIAZ2XQ7B3KLMN4PQRS\naws_secret_access_key=wJalrXUtnFEMIaK7M"
     "DENGbPxRfiCYz9xT5hPq2Lk\n"), [("aws-access-token", "AKIAZ2XQ7B3KLMN4PQRS"),
                                  ("aws-credential-pair", "wJalrXUtnFEMIaK7MDENGbPxRfiCYz9xT5hPq2Lk")]),
    ("aws", "a.py", 'AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMIaK7MDENGbPxRfiCYz9xT5hPq2Lk"',
     [("aws-secret-access-key", "wJalrXUtnFEMIaK7MDENGbPxRfiCYz9xT5hPq2Lk")]),
    ("aws", "a.py", 'blob = "wJalrXUtnFEMIaK7MDENGbPxRfiCYz9xT5hPq2Lk"', []),  # no key id near
    ("gcp", "a.py", 'k = "AIzaSyD3x9vQm2L8kT1pR7wN4cB6hJ0sE5fG2aZ"',
     [("gcp-api-key", "AIzaSyD3x9vQm2L8kT1pR7wN4cB6hJ0sE5fG2aZ")]),
    ("gcp", "a.py", 'k = "AIzaShort"', []),
    ("azure", "a.cs", f'c = "DefaultEndpointsProtocol=https;AccountName=acct1;AccountKey={AZ_KEY};"',
     [("azure-storage-connection-string", AZ_KEY)]),
    ("azure", "a.cs", 'c = "DefaultEndpointsProtocol=https;AccountName=acct1;AccountKey=abc=="', []),
    ("azure", "a.txt", ("https://a.blob.core.windows.net/c?sv=2022-11-02&sp=r&se=2030-01-01&sig="
     "Zm9vYmFyYmF6cXV4cXV1eHh5enp5eHd2dXRzcnFwb25tbGtqaWg%3D"),
     [("azure-sas-token", "Zm9vYmFyYmF6cXV4cXV1eHh5enp5eHd2dXRzcnFwb25tbGtqaWg%3D")]),
    ("azure", "a.txt", "see https://a.blob.core.windows.net/c?sv=2022-11-02&sig=short", []),
    # code hosting and CI
    ("github", "a.py", f'TOKEN = "{GHP}"', [("github-pat", GHP)]),
    ("github", "a.py", f'TOKEN = "{_bad_checksum(GHP)}"', []),  # CRC32 checksum fails
    ("github", "a.py", 'TOKEN = "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"',
     [("github-pat", "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")]),
    ("github", "a.py", f'TOKEN = "{GHP}"  # gitleaks:allow', []),
    ("github", "a.py", f'TOKEN = "{GHP}"  # stackwarden:allow', []),
    ("gitlab", "a.yml", "token: glpat-Zk3mQ9vB2xT7pL4wN8cR", [("gitlab-pat", "glpat-Zk3mQ9vB2xT7pL4wN8cR")]),
    ("gitlab", "a.yml", "token: glpat-xxxxxxxxxxxxxxxxxxxx", []),
    ("circleci", "a.sh", "export T=CCIPAT_AbCdEfGhIjKlMnOpQrStUv_" + "a1" * 20,
     [("circleci-personal-token", "CCIPAT_AbCdEfGhIjKlMnOpQrStUv_" + "a1" * 20)]),
    # packages
    ("npm", "a.js", f"const t = '{NPM}'", [("npm-access-token", NPM)]),
    ("npm", "a.js", f"const t = '{_bad_checksum(NPM)}'", []),
    ("pypi", "a.cfg", f"token {PYPI}", [("pypi-upload-token", PYPI)]),
    ("pypi", "a.cfg", "token pypi-AgEIcHlwaS5vcmc" + "A" * 40 + "bcdefghij" * 3, []),
    ("rubygems", "a.rb", "key = 'rubygems_" + "0123456789abcdef" * 3 + "'",
     [("rubygems-api-token", "rubygems_" + "0123456789abcdef" * 3)]),
    ("docker", "a.sh", "echo dckr_pat_Zk3mQ9vB2xT7pL4wN8cR-yTqW0a | docker login",
     [("dockerhub-pat", "dckr_pat_Zk3mQ9vB2xT7pL4wN8cR-yTqW0a")]),
    # SaaS
    ("slack", "a.py", 'SLACK = "xoxb-12345678901-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"',
     [("slack-bot-token", "xoxb-12345678901-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx")]),
    ("slack", "a.py", 'SLACK = "xoxb-123-abc"', []),
    ("stripe", "a.rb", 'Stripe.api_key = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"',
     [("stripe-access-token", "sk_live_4eC39HqLyjWDarjtT1zdp7dc")]),
    ("stripe", "a.rb", 'Stripe.api_key = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"',
     [("stripe-test-key", "sk_test_4eC39HqLyjWDarjtT1zdp7dc")]),
    ("sendgrid", "a.py", "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",
     [("sendgrid-api-token", "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")]),
    ("datadog", "a.py", 'DD_API_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"',
     [("datadog-api-key", "0f1e2d3c4b5a69788796a5b4c3d2e1f0")]),
    ("datadog", "a.py", 'checksum = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"', []),
    # keys and tokens
    ("pem", "id_rsa", RSA_PEM, [("private-key-rsa", RSA_PEM.strip())]),
    ("pem", "README.md", "-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----",
     []),
    ("jwt", "a.http", f"Authorization: Bearer {JWT}", [("jwt", JWT)]),
    ("jwt", "a.txt", "eyJub3QiOiJqc29u.eyJzdWIiOiIxMjM0In0.c2ln", []),  # header has no "alg"
    # databases
    ("database", "a.py", 'DB = "postgresql://app:Zk3mQ9vB2xT7pL4w@db.internal:5432/app"',
     [("postgres-uri-password", "Zk3mQ9vB2xT7pL4w")]),
    ("database", "a.py", 'DB = "postgresql://app:${DB_PASSWORD}@db.internal:5432/app"', []),
    ("database", "a.py", 'DB = "postgresql://user:password@localhost/app"', []),
    ("database", "a.cs", ('"Server=tcp:x.database.windows.net,1433;Database=d;User ID=u;'
     'Password=Zk3mQ9vB2xT7;Encrypt=True"'), [("adonet-connection-string-password", "Zk3mQ9vB2xT7")]),
    # credential files
    ("files", ".npmrc", "//registry.npmjs.org/:_authToken=9f4c1a52-7e3b-4d2a-b6c1-0e5f7a8b9c2d\n",
     [("npmrc-auth-token", "9f4c1a52-7e3b-4d2a-b6c1-0e5f7a8b9c2d")]),
    ("files", "notes.txt", "//registry.npmjs.org/:_authToken=9f4c1a52-7e3b-4d2a-b6c1-0e5f7a8b9c2d\n",
     []),
    ("files", "deploy/.env", "DB_HOST=x\nDB_PASSWORD=8ae31cacf141669ddfb5da\n",
     [("dotenv-secret", "8ae31cacf141669ddfb5da")]),
    ("files", "deploy/.env", "API_KEY=${API_KEY}\n", []),
    ("files", "config.json", '{"auths": {"r.io": {"auth": "' + base64.b64encode(
        b"robot:Zk3mQ9vB2xT7").decode() + '"}}}', [("docker-config-auth", base64.b64encode(
            b"robot:Zk3mQ9vB2xT7").decode())]),
    ("files", "config.json", '{"auths": {"r.io": {"auth": "bm90LWNyZWRlbnRpYWxz"}}}', []),
    ("files", "etc/shadow", "root:$6$rounds=5000$abcdefgh$" + "x1" * 43 + ":19000:0:99999:7:::\n",
     [("shadow-password-hash", "$6$rounds=5000$abcdefgh$" + "x1" * 43)]),
    ("files", "etc/shadow", "root:*:19000:0:99999:7:::\nnobody:!:19000::::::\n", []),
    # generic
    ("generic", "a.py", 'db_password = "S3cr3t!Pa55w0rd"', [("generic-password", "S3cr3t!Pa55w0rd")]),
    ("generic", "a.py", 'password = "changeme"', []),
    ("generic", "a.py", "password = os.environ['DB_PASSWORD']", []),
    ("generic", "a.py", 'password_hash = "5f4dcc3b5aa765d61d8327deb882cf99"', []),
    ("generic", "a.py", 'PAYMENT_API_KEY = "Zk3mQ9vB2xT7pL4wN8cRyTqW0aXe5UfD"',
     [("generic-api-key", "Zk3mQ9vB2xT7pL4wN8cRyTqW0aXe5UfD")]),
    ("generic", "a.py", 'api_key_name = "Zk3mQ9vB2xT7pL4wN8cRyTqW0aXe5UfD"', []),
    ("generic", "a.py", 'token_type = "refresh_token_authorization_code"', []),
    ("generic", "a.py", 'h = {"Authorization": "Bearer Zk3mQ9vB2xT7pL4wN8cRyTqW0aXe5UfD"}',
     [("http-authorization-bearer", "Zk3mQ9vB2xT7pL4wN8cRyTqW0aXe5UfD")]),
    ("generic", "a.py", 'PROXY = "https://deploy:Zk3mQ9vB2xT7@proxy.acme.io:8080"',
     [("url-basic-auth", "Zk3mQ9vB2xT7")]),
    ("generic", "a.py", 'URL = "https://user:password@example.com"', []),
]


@pytest.mark.parametrize(("family", "path", "text", "expected"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_family(engine: Engine, family: str, path: str, text: str,
                expected: list[tuple[str, str]]) -> None:
    assert sorted(found(engine, text, path)) == sorted(expected)


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_every_generated_kind_is_found(engine: Engine, kind: str) -> None:
    fake = GENERATORS[kind](random.Random(kind))
    data = fake.content if fake.content is not None else ("\n".join(fake.lines) + "\n").encode()
    path = fake.filename or "src/app.py"
    rules = {hit.rule.id for hit in engine.scan(data, path).hits}
    assert rules & fake.rules, f"{kind}: found {rules}"


SEVERITIES = [  # (private key, expected severity): encrypted keys are less urgent
    (ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw")), Severity.MEDIUM),
    (_openssh_encrypted(), Severity.MEDIUM),
    (ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption()), Severity.CRITICAL),
    (rsa.generate_private_key(65537, 1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"pw")), Severity.MEDIUM),
]


@pytest.mark.parametrize(("pem", "severity"), SEVERITIES)
def test_key_severity_follows_encryption(engine: Engine, pem: bytes, severity: Severity) -> None:
    hits = engine.scan(pem, "keys/id").hits
    assert [h.severity for h in hits] == [severity]
    assert hits[0].secret_end - hits[0].secret_start == len(pem.strip())  # the whole block


def test_pem_in_json_with_escaped_newlines(engine: Engine) -> None:
    pem = RSA_PEM.strip().replace("\n", "\\n")
    hits = engine.scan(f'{{"private_key": "{pem}\\n"}}'.encode(), "sa.json").hits
    assert [h.rule.id for h in hits] == ["private-key-rsa"]
