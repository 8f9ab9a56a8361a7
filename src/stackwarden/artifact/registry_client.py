"""An OCI Distribution API client: auth challenges and tokens, manifests, blobs, tags, push."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import httpx

from stackwarden.artifact.image import DOCKER_SCHEMA1, INDEX_TYPES, MANIFEST_TYPES, Descriptor
from stackwarden.artifact.layers import new_hasher
from stackwarden.artifact.registry_auth import (
    Challenge,
    Credentials,
    find_credentials,
    parse_challenges,
)
from stackwarden.artifact.registry_transport import (
    CHUNK,
    DEFAULT_OPTIONS,
    MAX_SMALL_BODY,
    Content,
    RegistryOptions,
    RegistryTransport,
    is_loopback,
)
from stackwarden.artifact.stores import verify_bytes
from stackwarden.core.config import DEFAULT_LIMITS, Limits
from stackwarden.core.errors import (
    AuthenticationError,
    DigestMismatch,
    LimitExceeded,
    RegistryError,
)

__all__ = ["DEFAULT_OPTIONS", "Manifest", "RegistryClient", "RegistryOptions", "is_loopback"]

MANIFEST_ACCEPT = ", ".join([*INDEX_TYPES, *MANIFEST_TYPES, *DOCKER_SCHEMA1])
# What a registry may label a manifest with; JSON and text/plain come from minimal servers.
MANIFEST_CONTENT_TYPES = (*INDEX_TYPES, *MANIFEST_TYPES, *DOCKER_SCHEMA1, "application/json",
                          "text/plain", "")
REPOSITORY = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)"
                        r"[a-z0-9]+)*)*")
TAG = re.compile(r"[\w][\w.-]{0,127}")
DIGEST = re.compile(r"(?:sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})")
MAX_PAGES = 10_000


@dataclass(frozen=True)
class Manifest:
    """A manifest or index as served: media type, verified digest, bytes and parsed document."""

    media_type: str
    digest: str
    data: bytes = field(repr=False)
    document: dict[str, Any] = field(repr=False)


def pull_scope(repository: str) -> str:
    """The token scope for reading a repository."""
    return f"repository:{repository}:pull"


def push_scope(repository: str) -> str:
    """The token scope for writing to a repository."""
    return f"repository:{repository}:pull,push"


class RegistryClient(RegistryTransport):
    """One registry host over the OCI Distribution API (thread-safe; close it when done).

    Anonymous, basic and Bearer-token auth are negotiated from the registry's challenges;
    credentials are looked up (flags, Docker config, helpers) only when a registry asks.
    """

    def __init__(self, host: str, *, options: RegistryOptions = DEFAULT_OPTIONS,
                 limits: Limits = DEFAULT_LIMITS, label: str | None = None) -> None:
        super().__init__(host, options=options, limits=limits, label=label)
        self._credentials: Credentials | None = None
        self._credentials_loaded = False
        self._bearer: Challenge | None = None  # realm and service, once the registry named them
        self._basic: str | None = None
        self._tokens: dict[str, str] = {}  # scope -> Authorization value

    def _secrets(self) -> list[str]:
        creds = self._credentials
        found = [self._basic or "", *self._tokens.values()]
        if creds is not None:
            found += [creds.password or "", creds.identity_token or "", creds.basic() or ""]
        return found

    def _challenged(self, response: httpx.Response) -> None:
        self._remember_challenges(response)

    # --- auth --------------------------------------------------------------------------------

    def _creds(self) -> Credentials | None:
        with self._lock:
            if not self._credentials_loaded:
                self._credentials = find_credentials(
                    self.host, username=self.options.username, password=self.options.password,
                    docker_config=self.options.docker_config, timeout=self.options.timeout)
                self._credentials_loaded = True
            return self._credentials

    def _remember_challenges(self, response: httpx.Response) -> list[Challenge]:
        challenges = [c for value in response.headers.get_list("www-authenticate")
                      for c in parse_challenges(value)]
        for challenge in challenges:
            if challenge.scheme == "bearer" and challenge.params.get("realm"):
                self._bearer = challenge
        return challenges

    def _authorization(self, scope: str, where: str) -> str | None:
        with self._lock:
            if scope in self._tokens:
                return self._tokens[scope]
            if self._bearer is not None:
                token = self._fetch_token(self._bearer, [scope], where)
                self._tokens[scope] = f"Bearer {token}"
                return self._tokens[scope]
            return self._basic

    def _refused(self, where: str, by: str, status: int) -> AuthenticationError:
        creds = self._creds()
        if creds is None:
            return AuthenticationError(
                f"{by} requires authentication (HTTP {status}) and no credentials were found for "
                f"{self.host}: pass a username and password, or run `docker login {self.host}`",
                source=where)
        return AuthenticationError(f"{by} refused the credentials from {creds.source} "
                                   f"(HTTP {status})", source=where)

    def _answer_challenge(self, response: httpx.Response, scope: str, where: str) -> None:
        challenges = self._remember_challenges(response)
        with self._lock:
            bearer = next((c for c in challenges if c.scheme == "bearer"), None)
            if bearer is not None and bearer.params.get("realm"):
                scopes = [scope]
                asked = bearer.params.get("scope")
                if asked and asked != scope:
                    scopes.append(asked)
                self._tokens[scope] = "Bearer " + self._fetch_token(bearer, scopes, where)
                return
            if any(c.scheme == "basic" for c in challenges):
                creds = self._creds()
                if creds is not None and creds.basic() is None:
                    raise AuthenticationError(
                        f"registry {self.host} asks for a username and password, but the "
                        f"credentials from {creds.source} are an identity token", source=where)
                if creds is None:
                    raise self._refused(where, f"registry {self.host}", 401)
                self._basic = creds.basic()
                return
        schemes = ", ".join(sorted({c.scheme for c in challenges})) or "none"
        raise AuthenticationError(f"registry {self.host} answered HTTP 401 with no usable "
                                  f"authentication challenge (schemes: {schemes})", source=where)

    def _fetch_token(self, challenge: Challenge, scopes: list[str], where: str) -> str:
        """Get a Bearer token from the challenge's realm, with our credentials if we have any."""
        realm = challenge.params["realm"]
        try:
            url = httpx.URL(realm)
        except httpx.InvalidURL:
            raise RegistryError("the registry named an invalid token realm", source=where) \
                from None
        if url.scheme not in ("https", "http") or (
                url.scheme == "http" and not (self.options.insecure or is_loopback(url.host))):
            raise RegistryError(f"refusing the token realm {realm!r}: plain HTTP is allowed only "
                                "for loopback hosts or with --insecure", source=where)
        creds = self._creds()
        service = challenge.params.get("service")
        what = f"getting a token from {url.scheme}://{url.netloc.decode()}"
        if creds is not None and creds.identity_token:
            form = {"grant_type": "refresh_token", "refresh_token": creds.identity_token,
                    "client_id": "stackwarden", "scope": " ".join(scopes)}
            if service:
                form["service"] = service
            data = str(httpx.QueryParams(form)).encode()
            response = self._exchange("POST", realm, {
                "Content-Type": "application/x-www-form-urlencoded"}, data, what=what,
                where=where)
        else:
            params: list[tuple[str, str | int | float | bool | None]] = \
                [("service", service)] if service else []
            params += [("scope", s) for s in scopes]
            headers = {"Authorization": creds.basic() or ""} if creds and creds.basic() else {}
            response = self._exchange("GET", str(url.copy_merge_params(params)), headers, None,
                                      what=what, where=where)
        if response.status_code in (401, 403):
            response.close()
            raise self._refused(where, "the token server", response.status_code)
        if response.status_code != 200:
            self._fail(response, what, where)
        body = self._read(response, MAX_SMALL_BODY, what, where)
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise RegistryError(f"{what}: the answer is not JSON", source=where) from None
        token = (doc.get("token") or doc.get("access_token")) if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{what}: the answer holds no token", source=where)
        return token

    # --- one authenticated API call -----------------------------------------------------------

    def request(self, method: str, path: str, *, scope: str, what: str, where: str,
                headers: dict[str, str] | None = None, content: Content = None,
                ok: tuple[int, ...] = (200,)) -> httpx.Response:
        """Call the API (path or absolute URL) with auth; a streaming response the caller closes."""
        base = self.base_url()
        url = path if path.startswith(("https://", "http://")) else base + path
        same_host = httpx.URL(url).netloc.decode() == httpx.URL(base).netloc.decode()
        for answered in (False, True):
            sent = dict(headers or {})
            auth = self._authorization(scope, where) if same_host else None
            if auth:
                sent["Authorization"] = auth
            response = self._exchange(method, url, sent, content, what=what, where=where)
            if response.status_code != 401 or not same_host:
                break
            if answered:
                response.close()
                raise self._refused(where, f"registry {self.host}", 401)
            try:
                self._answer_challenge(response, scope, where)
            finally:
                response.close()
        if response.status_code == 403:
            response.close()
            raise AuthenticationError(f"{what}: access denied (HTTP 403)", source=where)
        if response.status_code not in ok:
            self._fail(response, what, where)
        return response

    # --- the API ------------------------------------------------------------------------------

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        """Fetch a manifest or index by tag or digest, verified against its digest."""
        where = self.where(repository, reference)
        what = f"fetching manifest {reference}"
        response = self.request("GET", f"/v2/{repository}/manifests/{reference}",
                                scope=pull_scope(repository), what=what, where=where,
                                headers={"Accept": MANIFEST_ACCEPT})
        ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
        header = response.headers.get("docker-content-digest", "").strip()
        data = self._read(response, self.limits.max_manifest_bytes, what, where)
        if ctype not in MANIFEST_CONTENT_TYPES:
            raise RegistryError(f"{what}: the registry answered {ctype!r}, not an image "
                                "manifest", source=where)
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise RegistryError(self._scrub(f"{what}: the registry's answer is not JSON (starts "
                                            f"{data[:40]!r})"), source=where) from None
        if not isinstance(document, dict):
            raise RegistryError(f"{what}: the manifest is not a JSON object", source=where)
        wanted = reference if DIGEST.fullmatch(reference) else "sha256:"
        algorithm, hasher = new_hasher(wanted)
        hasher.update(data)
        digest = f"{algorithm}:{hasher.hexdigest()}"
        if DIGEST.fullmatch(reference) and digest != reference:
            raise DigestMismatch(f"the manifest served for {reference} hashes to {digest}",
                                 source=where)
        if header and DIGEST.fullmatch(header):
            verify_bytes(data, header, f"{where} (Docker-Content-Digest)")
        media_type = document.get("mediaType") if isinstance(document.get("mediaType"),
                                                             str) else ctype
        return Manifest(media_type or "", digest, data, document)

    def head_manifest(self, repository: str, reference: str) -> str | None:
        """The digest of a manifest (Docker-Content-Digest), or None when there is none."""
        where = self.where(repository, reference)
        response = self.request("HEAD", f"/v2/{repository}/manifests/{reference}",
                                scope=pull_scope(repository), what=f"checking {reference}",
                                where=where, headers={"Accept": MANIFEST_ACCEPT}, ok=(200, 404))
        response.close()
        if response.status_code == 404:
            return None
        header = response.headers.get("docker-content-digest", "").strip()
        return header if DIGEST.fullmatch(header) else self.get_manifest(repository,
                                                                          reference).digest

    @contextmanager
    def open_blob(self, repository: str, desc: Descriptor) -> Iterator[BinaryIO]:
        """Stream a blob (never held whole in memory); the reader checks the descriptor's size."""
        where = self.where(repository)
        what = f"fetching blob {desc.digest}"
        if not DIGEST.fullmatch(desc.digest):
            raise RegistryError(f"unsupported digest {desc.digest!r}", source=where)
        response = self.request("GET", f"/v2/{repository}/blobs/{desc.digest}",
                                scope=pull_scope(repository), what=what, where=where,
                                # the digest covers the stored bytes: no transport encoding
                                headers={"Accept-Encoding": "identity"})
        try:
            yield io.BufferedReader(_BlobReader(self, response, desc, what, where), CHUNK)
        finally:
            response.close()

    def read_blob(self, repository: str, desc: Descriptor, limit: int) -> bytes:
        """Read a small blob (a config) whole, verified against its digest."""
        with self.open_blob(repository, desc) as handle:
            data = handle.read(limit + 1)
        where = self.where(repository)
        if len(data) > limit:
            raise LimitExceeded(f"blob {desc.digest} is over the {limit}-byte limit",
                                source=where)
        verify_bytes(data, desc.digest, f"{where} ({desc.digest})")
        return data

    def blob_exists(self, repository: str, digest: str) -> bool:
        """Whether the repository holds a blob (HEAD)."""
        response = self.request("HEAD", f"/v2/{repository}/blobs/{digest}",
                                scope=push_scope(repository), what=f"checking blob {digest}",
                                where=self.where(repository), ok=(200, 404))
        response.close()
        return response.status_code == 200

    def upload_blob(self, repository: str, digest: str, size: int, content: Content) -> bool:
        """Upload a blob monolithically (POST then PUT) unless present; True if uploaded."""
        if self.blob_exists(repository, digest):
            return False
        where, what = self.where(repository), f"uploading blob {digest}"
        scope = push_scope(repository)
        started = self.request("POST", f"/v2/{repository}/blobs/uploads/", scope=scope,
                               what=what, where=where, ok=(202,))
        started.close()
        location = started.headers.get("location")
        if not location:
            raise RegistryError(f"{what}: the registry gave no upload location", source=where)
        url = httpx.URL(self.base_url()).join(location).copy_merge_params({"digest": digest})
        done = self.request("PUT", str(url), scope=scope, what=what, where=where,
                            headers={"Content-Type": "application/octet-stream",
                                     "Content-Length": str(size)},
                            content=content, ok=(201, 204))
        done.close()
        return True

    def put_manifest(self, repository: str, reference: str, data: bytes,
                     media_type: str) -> str:
        """Store a manifest or index under a tag or digest; returns its digest."""
        response = self.request("PUT", f"/v2/{repository}/manifests/{reference}",
                                scope=push_scope(repository), what=f"pushing manifest {reference}",
                                where=self.where(repository, reference),
                                headers={"Content-Type": media_type}, content=data,
                                ok=(200, 201, 202))
        response.close()
        algorithm, hasher = new_hasher("sha256:")
        hasher.update(data)
        return f"{algorithm}:{hasher.hexdigest()}"

    def list_tags(self, repository: str, *, page_size: int | None = None) -> list[str]:
        """Every tag of a repository (following `Link` pagination)."""
        path = f"/v2/{repository}/tags/list" + (f"?n={page_size}" if page_size else "")
        return self._paginate(path, "tags", pull_scope(repository), self.where(repository))

    def catalog(self, *, page_size: int | None = None) -> list[str]:
        """Every repository the registry lists (following `Link` pagination)."""
        path = "/v2/_catalog" + (f"?n={page_size}" if page_size else "")
        return self._paginate(path, "repositories", "registry:catalog:*", self.where())

    def _paginate(self, path: str, key: str, scope: str, where: str) -> list[str]:
        items: list[str] = []
        seen: set[str] = set()
        what = f"listing {key}"
        for _ in range(MAX_PAGES):
            response = self.request("GET", path, scope=scope, what=what, where=where)
            following = response.links.get("next", {}).get("url")
            try:
                doc = json.loads(self._read(response, self.limits.max_manifest_bytes, what,
                                            where))
            except (ValueError, UnicodeDecodeError):
                raise RegistryError(f"{what}: the answer is not JSON", source=where) from None
            values = doc.get(key) if isinstance(doc, dict) else None
            if values is not None and (not isinstance(values, list) or
                                       not all(isinstance(v, str) for v in values)):
                raise RegistryError(f"{what}: {key!r} is not a list of names", source=where)
            items.extend(values or [])
            if not following:
                return items
            path = str(httpx.URL(self.base_url()).join(following))
            if path in seen:
                raise RegistryError(f"{what}: the registry's pages loop", source=where)
            seen.add(path)
        raise RegistryError(f"{what}: more than {MAX_PAGES} pages", source=where)


class _BlobReader(io.RawIOBase):
    """A blob download as a raw stream: transfer errors become RegistryError, size is enforced."""

    def __init__(self, client: RegistryClient, response: httpx.Response, desc: Descriptor,
                 what: str, where: str) -> None:
        self.client, self.desc, self.what, self.where = client, desc, what, where
        self.chunks = response.iter_bytes()  # as the network delivers: no re-buffering
        self.pending = memoryview(b"")  # slices of a memoryview are not copies
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if not self.pending:
            try:
                self.pending = memoryview(next(self.chunks, b""))
            except httpx.TimeoutException:
                raise RegistryError(f"{self.what}: the registry stopped sending (no data within "
                                    f"{self.client.options.timeout:g}s)", source=self.where) \
                    from None
            except httpx.HTTPError as exc:
                raise RegistryError(f"{self.what}: transfer failed: {exc}", source=self.where) \
                    from None
            self.count += len(self.pending)
            size = self.desc.size
            if size >= 0 and self.count > size:
                raise DigestMismatch(f"{self.what}: the registry sent more than the "
                                     f"descriptor's {size} bytes", source=self.where)
            if not self.pending and 0 <= size and self.count < size:
                raise RegistryError(f"{self.what}: the download ended after {self.count} of "
                                    f"{size} bytes", source=self.where)
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n
