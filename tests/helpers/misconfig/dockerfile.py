"""Dockerfile plants: edits of one hardened Dockerfile."""

from __future__ import annotations

from tests.helpers.misconfig import FileKind, Mutation, Plant

DIGEST = "sha256:" + "cd" * 32
CLEAN = [
    f"FROM registry.example.com/base/python:3.12-slim@{DIGEST}",
    "ARG APP_VERSION=1.0.0",
    ("RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates "
    "&& rm -rf /var/lib/apt/lists/*"),
    "WORKDIR /app",
    "COPY --chown=10001:10001 app/ /app/",
    "EXPOSE 8080",
    "USER 10001",
    'HEALTHCHECK --interval=30s CMD ["/app/healthcheck"]',
    'ENTRYPOINT ["/app/run"]',
]


def _edit(op: str, arg: str, line: str = "") -> Mutation:
    """An edit: insert a line before EXPOSE, replace or delete the line starting with arg."""
    def run(lines: list[str], n: int) -> None:
        if op == "insert":
            at = next(i for i, text in enumerate(lines) if text.startswith("EXPOSE"))
            lines.insert(at, arg)
            return
        for i, text in enumerate(lines):
            if text.startswith(arg):
                if op == "replace":
                    lines[i] = line
                else:
                    del lines[i]
                return
        raise AssertionError(f"no line starting with {arg}")
    return run


def _ins(check_id: str, bad: str, good: str, group: str = "",
         also: tuple[str, ...] = ()) -> Plant:
    return Plant(check_id, "dockerfile", _edit("insert", bad), _edit("insert", good), group,
                 also)


def _rep(check_id: str, prefix: str, bad: str, good: str, group: str = "",
         also: tuple[str, ...] = ()) -> Plant:
    return Plant(check_id, "dockerfile", _edit("replace", prefix, bad),
                 _edit("replace", prefix, good), group or prefix, also)


APT = "RUN apt-get update"
PLANTS = [
    Plant("SW-DF-001", "dockerfile", _edit("delete", "USER"),
          _edit("replace", "USER", "USER appuser"), "USER"),
    _rep("SW-DF-002", "USER", "USER root", "USER rootless"),
    _rep("SW-DF-003", "FROM", "FROM python:latest", f"FROM python:3.12.1@{DIGEST}",
         also=("SW-DF-005",)),
    _rep("SW-DF-004", "FROM", "FROM python", f"FROM python@{DIGEST}", also=("SW-DF-005",)),
    _rep("SW-DF-005", "FROM", "FROM python:3.12-slim", f"FROM python:3.12-slim@{DIGEST}"),
    _ins("SW-DF-006", "ADD config.yaml /app/config.yaml", "COPY config.yaml /app/config.yaml"),
    _ins("SW-DF-007", "ADD https://example.com/tool.tar.gz /opt/",
         f"ADD --checksum=sha256:{'ef' * 32} https://example.com/tool.tar.gz /opt/"),
    _ins("SW-DF-008", "RUN curl -fsSL https://get.example.com/install.sh | sh",
         "RUN curl -fsSLo /tmp/i.sh https://get.example.com/install.sh && sha256sum -c "
         "/app/i.sha256 && sh /tmp/i.sh"),
    _ins("SW-DF-009", "ENV DB_PASSWORD=Sup3rS3cretPw", "ENV DB_PASSWORD_FILE=/run/secrets/db"),
    _ins("SW-DF-010", "ARG API_TOKEN=abcd1234efgh5678", "ARG API_TOKEN_FILE=/run/secrets/api"),
    _ins("SW-DF-011", "ARG NPM_TOKEN", "ARG NPM_REGISTRY"),
    Plant("SW-DF-012", "dockerfile", _edit("delete", "HEALTHCHECK"),
          _edit("replace", "HEALTHCHECK", "HEALTHCHECK CMD /app/healthcheck --quick"),
          "HEALTHCHECK"),
    _rep("SW-DF-013", APT, "RUN apt-get update && apt-get install -y --no-install-recommends "
         "curl", "RUN apt-get update && apt-get install -y --no-install-recommends curl && "
         "apt-get clean && rm -rf /var/lib/apt/lists/*"),
    _ins("SW-DF-014", "RUN apt-get update", "RUN apt-get update && apt-get install -y "
         "--no-install-recommends jq && rm -rf /var/lib/apt/lists/*"),
    _ins("SW-DF-015", "RUN sudo chown -R 10001 /app", "RUN chown -R 10001 /app"),
    _rep("SW-DF-016", APT, "RUN apt-get update && apt-get install -y ca-certificates && "
         "rm -rf /var/lib/apt/lists/*", "RUN apt-get update && apt-get install "
         "--no-install-recommends -y ca-certificates && rm -rf /var/lib/apt/lists/*"),
    _ins("SW-DF-017", "RUN apt-get update && apt-get upgrade -y && rm -rf /var/lib/apt/lists/*",
         "RUN apt-get update && apt-get install -y --no-install-recommends --only-upgrade "
         "openssl && rm -rf /var/lib/apt/lists/*"),
    _rep("SW-DF-018", "EXPOSE", "EXPOSE 8080 22", "EXPOSE 8080 2222"),
    _rep("SW-DF-019", "EXPOSE", "EXPOSE 80800", "EXPOSE 8081/udp"),
    _ins("SW-DF-020", 'ENTRYPOINT ["/app/old"]', 'CMD ["--serve"]'),
    _ins("SW-DF-021", "RUN chmod -R 777 /app", "RUN chmod -R 755 /app"),
    _ins("SW-DF-022", "RUN yum install -y jq", "RUN yum install -y jq && yum clean all"),
    _ins("SW-DF-023", "RUN apk add curl", "RUN apk add --no-cache curl"),
    _ins("SW-DF-024", "RUN curl -k https://example.com/data.json -o /app/data.json",
         "RUN curl --cacert /etc/ssl/ca.pem https://example.com/data.json -o /app/data.json"),
    _ins("SW-DF-025", "COPY id_rsa /root/.ssh/id_rsa",
         "COPY id_rsa.pub /home/app/.ssh/authorized_keys"),
    _ins("SW-DF-026", "RUN --security=insecure make install", "RUN --network=none make install"),
    _ins("SW-DF-027", "WORKDIR data", "WORKDIR /app/data"),
]


def new() -> list[str]:
    """The hardened Dockerfile's lines."""
    return list(CLEAN)


def render(lines: list[str]) -> bytes:
    """The Dockerfile text."""
    return ("\n".join(lines) + "\n").encode()


KIND = FileKind("dockerfile", new, render, lambda n: "Dockerfile", single_model=True)
