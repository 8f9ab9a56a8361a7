"""Fake but well-formed secrets of 61 types (valid formats and checksums).

Each generator returns a `Fake`: the lines to insert into source text (or a whole file),
the secret, and the rule ids allowed to report it. tests/helpers/planted.py plants them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import string
import urllib.parse
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B64URL = ALNUM + "-_"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Fake:
    """A generated secret and how it appears: lines to insert, or a whole new file."""

    kind: str
    lines: tuple[str, ...]  # text lines (the secret sits on line `offset` … `offset+span-1`)
    secret: str
    rules: frozenset[str]
    offset: int = 0
    span: int = 1
    filename: str | None = None  # a new file instead of an insertion
    content: bytes | None = None  # binary file content
    also: tuple[tuple[str, int, str, frozenset[str]], ...] = ()  # (kind, offset, secret, rules)


def _r(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _mixed(rng: random.Random, alphabet: str, n: int) -> str:
    """Random text with at least one letter and one digit (what a real key looks like)."""
    while True:
        text = _r(rng, alphabet, n)
        if any(c.isdigit() for c in text) and any(c.isalpha() for c in text):
            return text


def base62_crc(text: str) -> str:
    """GitHub's token checksum: CRC32 of the random part in base 62, 6 characters."""
    value, digits = zlib.crc32(text.encode()), ""
    while value:
        value, rest = divmod(value, 62)
        digits = _BASE62[rest] + digits
    return digits.rjust(6, "0")


def _checksummed(rng: random.Random, prefix: str) -> str:
    body = _r(rng, ALNUM, 30)
    return prefix + body + base62_crc(body)


def _assign(rng: random.Random, kind: str, name: str, value: str, rules: set[str],
            *, styles: tuple[str, ...] = ("py", "json", "comment", "yaml")) -> Fake:
    style = rng.choice(styles)
    line = {"py": f'{name} = "{value}"', "json": f'    "{name.lower()}": "{value}",',
            "comment": f"# {name.lower().replace('_', ' ')}: {value}",
            "yaml": f"{name.lower()}: '{value}'"}[style]
    return Fake(kind, (line,), value, frozenset(rules))


def _pem(text: str, kind: str, rules: set[str], name: str = "KEY") -> Fake:
    lines = tuple([f'{name} = """'] + text.strip().splitlines() + ['"""'])
    return Fake(kind, lines, text, frozenset(rules), offset=1, span=len(lines) - 2)


def _key_bytes(key: object, fmt: serialization.PrivateFormat,
               encryption: serialization.KeySerializationEncryption | None = None) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, fmt,  # type: ignore[attr-defined]
                             encryption or serialization.NoEncryption())


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _pypi(rng: random.Random) -> str:
    ident = json.dumps({"version": 1, "permissions": "user",
                        "nonce": _r(rng, HEX, 32)}).encode()
    caveat = json.dumps({"version": 1, "permissions": {"projects": ["demo"]}}).encode()
    raw = (b"\x02\x01\x08pypi.org\x02" + bytes([len(ident)]) + ident + b"\x00"
           + b"\x02" + bytes([len(caveat)]) + caveat + b"\x00\x00"
           + b"\x06\x20" + rng.randbytes(32))
    return "pypi-" + _b64u(raw)


def _jwt(rng: random.Random) -> str:
    header = _b64u(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64u(json.dumps({"sub": _r(rng, ALNUM, 12), "iat": rng.randint(10**9, 2 * 10**9),
                                "role": "admin"}).encode())
    signature = _b64u(hmac.new(rng.randbytes(32), f"{header}.{payload}".encode(),
                               hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"


def _pgp_block(rng: random.Random) -> str:
    body = base64.b64encode(b"\x95\x01\xd8\x04" + rng.randbytes(600)).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    crc = base64.b64encode(rng.randbytes(3)).decode()
    return "\n".join(["-----BEGIN PGP PRIVATE KEY BLOCK-----", "", *lines, f"={crc}",
                      "-----END PGP PRIVATE KEY BLOCK-----"])


def _generators() -> dict[str, Callable[[random.Random], Fake]]:
    g: dict[str, Callable[[random.Random], Fake]] = {}

    def add(kind: str) -> Callable[[Callable[[random.Random], Fake]],
                                   Callable[[random.Random], Fake]]:
        def register(fn: Callable[[random.Random], Fake]) -> Callable[[random.Random], Fake]:
            g[kind] = fn
            return fn
        return register

    simple = {  # kind: (variable name, value factory, rule ids)
        "github-pat": ("GITHUB_TOKEN", lambda r: _checksummed(r, "ghp_"), {"github-pat"}),
        "github-oauth": ("OAUTH_TOKEN", lambda r: _checksummed(r, "gho_"), {"github-oauth"}),
        "github-app": ("INSTALLATION_TOKEN", lambda r: _checksummed(r, r.choice(["ghs_", "ghu_"])),
                       {"github-app-token"}),
        "github-fine-grained": ("GH_PAT", lambda r: f"github_pat_{_r(r, ALNUM, 22)}_"
                                f"{_r(r, ALNUM, 59)}", {"github-fine-grained-pat"}),
        "gitlab-pat": ("GITLAB_TOKEN", lambda r: "glpat-" + _mixed(r, ALNUM + "_-", 20),
                       {"gitlab-pat"}),
        "slack-bot": ("SLACK_BOT_TOKEN", lambda r: f"xoxb-{_r(r, string.digits, 11)}-"
                      f"{_r(r, string.digits, 13)}-{_r(r, ALNUM, 24)}", {"slack-bot-token"}),
        "slack-webhook": ("SLACK_WEBHOOK", lambda r: "https://hooks.slack.com/services/T"
                          f"{_r(r, string.ascii_uppercase + string.digits, 8)}/B"
                          f"{_r(r, string.ascii_uppercase + string.digits, 8)}/"
                          f"{_r(r, ALNUM, 24)}", {"slack-webhook-url"}),
        "stripe-live": ("STRIPE_KEY", lambda r: "sk_live_" + _r(r, ALNUM, 24),
                        {"stripe-access-token"}),
        "twilio-api-key": ("TWILIO_KEY_SID", lambda r: "SK" + _r(r, HEX, 32), {"twilio-api-key"}),
        "sendgrid": ("SENDGRID_API_KEY", lambda r: f"SG.{_r(r, B64URL, 22)}.{_r(r, B64URL, 43)}",
                     {"sendgrid-api-token"}),
        "mailgun": ("MAILGUN_KEY", lambda r: "key-" + _r(r, HEX, 32),
                    {"mailgun-private-api-token"}),
        "shopify": ("SHOPIFY_TOKEN", lambda r: "shpat_" + _r(r, HEX, 32),
                    {"shopify-access-token"}),
        "datadog": ("DD_API_KEY", lambda r: _r(r, HEX, 32), {"datadog-api-key"}),
        "npm-token": ("NPM_TOKEN", lambda r: _checksummed(r, "npm_"), {"npm-access-token"}),
        "pypi-token": ("PYPI_TOKEN", _pypi, {"pypi-upload-token"}),
        "rubygems": ("GEM_HOST_API_KEY", lambda r: "rubygems_" + _r(r, HEX, 48),
                     {"rubygems-api-token"}),
        "dockerhub-pat": ("DOCKERHUB_TOKEN", lambda r: "dckr_pat_" + _mixed(r, B64URL, 27),
                          {"dockerhub-pat"}),
        "gcp-api-key": ("GOOGLE_API_KEY", lambda r: "AIza" + _mixed(r, B64URL, 35),
                        {"gcp-api-key"}),
        "azure-ad-secret": ("AZURE_CLIENT_SECRET", lambda r: f"{_r(r, ALNUM, 3)}"
                            f"{r.choice(string.digits)}Q~{_mixed(r, ALNUM + '_~.-', 34)}",
                            {"azure-ad-client-secret"}),
        "openai": ("OPENAI_API_KEY", lambda r: f"sk-proj-{_r(r, B64URL, 74)}T3BlbkFJ"
                   f"{_r(r, B64URL, 74)}", {"openai-api-key"}),
        "anthropic": ("ANTHROPIC_API_KEY", lambda r: f"sk-ant-api03-{_r(r, B64URL, 93)}AA",
                      {"anthropic-api-key"}),
        "huggingface": ("HF_TOKEN", lambda r: "hf_" + _r(r, string.ascii_letters, 34),
                        {"huggingface-access-token"}),
        "age-key": ("AGE_KEY", lambda r: "AGE-SECRET-KEY-1" + _r(
            r, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58), {"age-secret-key"}),
        "vault-token": ("VAULT_TOKEN", lambda r: "hvs." + _mixed(r, B64URL, 95),
                        {"vault-service-token"}),
        "databricks": ("DATABRICKS_TOKEN", lambda r: "dapi" + _r(r, HEX, 32),
                       {"databricks-api-token"}),
        "digitalocean": ("DO_TOKEN", lambda r: "dop_v1_" + _r(r, HEX, 64), {"digitalocean-pat"}),
        "linear": ("LINEAR_KEY", lambda r: "lin_api_" + _r(r, ALNUM, 40), {"linear-api-key"}),
        "sentry": ("SENTRY_AUTH_TOKEN", lambda r: "sntryu_" + _r(r, HEX, 64),
                   {"sentry-user-token"}),
        "telegram": ("BOT_TOKEN", lambda r: f"{r.randint(10**9, 9 * 10**9)}:AA"
                     f"{_mixed(r, B64URL, 33)}", {"telegram-bot-api-token"}),
        "heroku": ("HEROKU_API_KEY", lambda r: "HRKU-AA" + _mixed(r, B64URL, 58),
                   {"heroku-api-key-v2"}),
        "jwt": ("SESSION", _jwt, {"jwt"}),
        "generic-api-key": ("PAYMENT_API_KEY", lambda r: _mixed(r, ALNUM, 32),
                            {"generic-api-key"}),
        "generic-password": ("db_password", lambda r: _mixed(r, ALNUM + "!@#^&*()-_=+.", 16),
                             {"generic-password"}),
    }
    for kind, (name, make, rules) in simple.items():
        def factory(rng: random.Random, kind: str = kind, name: str = name,
                    make: Callable[[random.Random], str] = make, rules: set[str] = rules) -> Fake:
            styles = ("py",) if kind in ("datadog", "generic-api-key", "generic-password") \
                else ("py", "json", "comment", "yaml")
            return _assign(rng, kind, name, make(rng), rules, styles=styles)
        g[kind] = factory

    @add("aws-access-key-id")
    def _aws_id(r: random.Random) -> Fake:
        key_id = "AKIA" + _r(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
        return Fake("aws-access-key-id", (f'aws_access_key_id = "{key_id}"',), key_id,
                    frozenset({"aws-access-token"}))

    @add("aws-secret-key")
    def _aws_pair(r: random.Random) -> Fake:
        key_id = "AKIA" + _r(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
        secret = _mixed(r, ALNUM + "+/", 40)
        lines = (f"AWS = ('{key_id}',", f"       '{secret}')")
        return Fake("aws-secret-key", lines, secret,
                    frozenset({"aws-credential-pair", "aws-secret-access-key"}), offset=1,
                    also=(("aws-access-key-id", 0, key_id, frozenset({"aws-access-token"})),))

    @add("azure-storage")
    def _azure_storage(r: random.Random) -> Fake:
        key = base64.b64encode(r.randbytes(64)).decode()
        value = (f"DefaultEndpointsProtocol=https;AccountName=acct{_r(r, string.digits, 6)};"
                 f"AccountKey={key};EndpointSuffix=core.windows.net")
        return _assign(r, "azure-storage", "STORAGE_CONNECTION", value,
                       {"azure-storage-connection-string"})

    @add("azure-sas")
    def _azure_sas(r: random.Random) -> Fake:
        sig = urllib.parse.quote(base64.b64encode(r.randbytes(32)).decode(), safe="")
        url = (f"https://acct{_r(r, string.digits, 4)}.blob.core.windows.net/data?sv=2022-11-02"
               f"&ss=b&srt=sco&sp=rl&se=2030-01-01T00:00:00Z&spr=https&sig={sig}")
        return _assign(r, "azure-sas", "BLOB_SAS_URL", url, {"azure-sas-token"})

    for scheme, kind, rule in (("postgresql", "postgres-uri", "postgres-uri-password"),
                               ("mysql", "mysql-uri", "mysql-uri-password"),
                               ("mongodb+srv", "mongodb-uri", "mongodb-uri-password"),
                               ("redis", "redis-uri", "redis-uri-password")):
        def uri(rng: random.Random, scheme: str = scheme, kind: str = kind,
                rule: str = rule) -> Fake:
            password = _mixed(rng, ALNUM, 18)
            value = f"{scheme}://svc_{_r(rng, string.ascii_lowercase, 5)}:{password}@db" \
                    f"{rng.randint(1, 99)}.internal.acme.io:5432/app"
            return _assign(rng, kind, "DATABASE_URL", value, {rule})
        g[kind] = uri

    @add("url-basic-auth")
    def _url_auth(r: random.Random) -> Fake:
        value = f"https://deploy:{_mixed(r, ALNUM, 16)}@proxy{r.randint(1, 9)}.acme.io:8080"
        return _assign(r, "url-basic-auth", "PROXY_URL", value, {"url-basic-auth"})

    @add("http-bearer")
    def _bearer(r: random.Random) -> Fake:
        token = _mixed(r, ALNUM, 40)
        line = f'HEADERS = {{"Authorization": "Bearer {token}"}}'
        return Fake("http-bearer", (line,), token, frozenset({"http-authorization-bearer"}))

    @add("private-key-rsa")
    def _rsa(r: random.Random) -> Fake:
        key = rsa.generate_private_key(65537, 1024)
        text = _key_bytes(key, serialization.PrivateFormat.TraditionalOpenSSL).decode()
        return _pem(text, "private-key-rsa", {"private-key-rsa"})

    @add("private-key-ec")
    def _ec(r: random.Random) -> Fake:
        key = ec.generate_private_key(ec.SECP256R1())
        text = _key_bytes(key, serialization.PrivateFormat.TraditionalOpenSSL).decode()
        return _pem(text, "private-key-ec", {"private-key-ec"})

    @add("private-key-dsa")
    def _dsa(r: random.Random) -> Fake:
        key = dsa.generate_private_key(1024)
        text = _key_bytes(key, serialization.PrivateFormat.TraditionalOpenSSL).decode()
        return _pem(text, "private-key-dsa", {"private-key-dsa"})

    @add("private-key-openssh")
    def _openssh(r: random.Random) -> Fake:
        key = ed25519.Ed25519PrivateKey.generate()
        text = _key_bytes(key, serialization.PrivateFormat.OpenSSH).decode()
        return _pem(text, "private-key-openssh", {"private-key-openssh"})

    @add("private-key-pkcs8")
    def _pkcs8(r: random.Random) -> Fake:
        key = ec.generate_private_key(ec.SECP384R1())
        text = _key_bytes(key, serialization.PrivateFormat.PKCS8).decode()
        return _pem(text, "private-key-pkcs8", {"private-key-pkcs8"})

    @add("private-key-pkcs8-encrypted")
    def _pkcs8_enc(r: random.Random) -> Fake:
        key = ec.generate_private_key(ec.SECP256R1())
        text = _key_bytes(key, serialization.PrivateFormat.PKCS8,
                          serialization.BestAvailableEncryption(b"correct horse")).decode()
        return _pem(text, "private-key-pkcs8-encrypted", {"private-key-pkcs8-encrypted"})

    @add("private-key-pgp")
    def _pgp(r: random.Random) -> Fake:
        return _pem(_pgp_block(r), "private-key-pgp", {"private-key-pgp"})

    @add("gcp-service-account")
    def _gcp_sa(r: random.Random) -> Fake:
        key = rsa.generate_private_key(65537, 1024)
        pem = _key_bytes(key, serialization.PrivateFormat.PKCS8).decode()
        doc = {"type": "service_account", "project_id": f"proj-{_r(r, HEX, 6)}",
               "private_key_id": _r(r, HEX, 40), "private_key": pem,
               "client_email": f"svc@proj-{_r(r, HEX, 6)}.iam.gserviceaccount.com"}
        text = json.dumps(doc, indent=2)
        return Fake("gcp-service-account", tuple(text.splitlines()), doc["private_key_id"],
                    frozenset({"gcp-service-account", "private-key-pkcs8"}),
                    span=len(text.splitlines()), filename="service-account.json")

    @add("dotenv")
    def _dotenv(r: random.Random) -> Fake:
        value = _mixed(r, ALNUM, 32)
        lines = ("APP_ENV=production", "APP_PORT=8080", f"APP_SIGNING_SECRET={value}")
        return Fake("dotenv", lines, value, frozenset({"dotenv-secret"}), offset=2,
                    filename=".env")

    @add("npmrc")
    def _npmrc(r: random.Random) -> Fake:
        token = _checksummed(r, "npm_") if r.random() < 0.5 else \
            "-".join(_r(r, HEX, n) for n in (8, 4, 4, 4, 12))
        lines = ("registry=https://registry.npmjs.org/",
                 f"//registry.npmjs.org/:_authToken={token}")
        return Fake("npmrc", lines, token, frozenset({"npmrc-auth-token", "npm-access-token"}),
                    offset=1, filename=".npmrc")

    @add("pypirc")
    def _pypirc(r: random.Random) -> Fake:
        token = _pypi(r)
        lines = ("[distutils]", "index-servers = pypi", "", "[pypi]", "username = __token__",
                 f"password = {token}")
        return Fake("pypirc", lines, token, frozenset({"pypirc-password", "pypi-upload-token"}),
                    offset=5, filename=".pypirc")

    @add("git-credentials")
    def _git_credentials(r: random.Random) -> Fake:
        token = _checksummed(r, "ghp_")
        return Fake("git-credentials", (f"https://ci-bot:{token}@github.com",), token,
                    frozenset({"git-credentials", "github-pat"}), filename=".git-credentials")

    @add("docker-config")
    def _docker(r: random.Random) -> Fake:
        auth = base64.b64encode(f"robot:{_mixed(r, ALNUM, 20)}".encode()).decode()
        text = json.dumps({"auths": {"registry.acme.io": {"auth": auth}}}, indent=2)
        lines = tuple(text.splitlines())
        index = next(i for i, line in enumerate(lines) if auth in line)
        return Fake("docker-config", lines, auth, frozenset({"docker-config-auth"}),
                    offset=index, filename="config.json")

    @add("kubeconfig-token")
    def _kube_token(r: random.Random) -> Fake:
        token = _mixed(r, ALNUM, 48)
        lines = ("apiVersion: v1", "kind: Config", "clusters:", "- name: prod", "  cluster:",
                 "    server: https://10.0.0.1:6443", "current-context: prod", "users:",
                 "- name: admin", "  user:", f"    token: {token}")
        return Fake("kubeconfig-token", lines, token, frozenset({"kubeconfig-token"}),
                    offset=10, filename="kubeconfig")

    @add("kubeconfig-client-key")
    def _kube_key(r: random.Random) -> Fake:
        key = ec.generate_private_key(ec.SECP256R1())
        data = base64.b64encode(_key_bytes(key, serialization.PrivateFormat.TraditionalOpenSSL)
                                ).decode()
        lines = ("apiVersion: v1", "kind: Config", "current-context: prod", "users:",
                 "- name: admin", "  user:", f"    client-key-data: {data}")
        return Fake("kubeconfig-client-key", lines, data,
                    frozenset({"kubeconfig-client-key-data"}), offset=6, filename="kubeconfig")

    @add("netrc")
    def _netrc(r: random.Random) -> Fake:
        password = _mixed(r, ALNUM, 16)
        return Fake("netrc", (f"machine api.acme.io login bob password {password}",), password,
                    frozenset({"netrc-password", "netrc-credentials"}), filename=".netrc")

    @add("pkcs12")
    def _p12(r: random.Random) -> Fake:
        key = ec.generate_private_key(ec.SECP256R1())
        blob = pkcs12.serialize_key_and_certificates(
            b"client", key, None, None, serialization.BestAvailableEncryption(b"changeit"))
        return Fake("pkcs12", (), hashlib.sha256(blob).hexdigest(), frozenset({"pkcs12-file"}),
                    span=0, filename="client.p12", content=blob)

    @add("der-private-key")
    def _der(r: random.Random) -> Fake:
        key = rsa.generate_private_key(65537, 1024)
        blob = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
        return Fake("der-private-key", (), hashlib.sha256(blob).hexdigest(),
                    frozenset({"der-private-key-file"}), span=0, filename="signing.der",
                    content=blob)

    return g


GENERATORS = _generators()
