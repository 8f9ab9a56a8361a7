"""What the sample image plants on purpose, so `make demo` shows every scanner at work.

Nothing here is a real credential or real malware: the token is random (with a valid GitHub
checksum, so it is recognised as one), the EICAR file is the antivirus industry's harmless test
string, and the misconfigurations are textbook ones. The EICAR string and the token are built
at run time so that this source file itself is neither.
"""

from __future__ import annotations

import hashlib
import zlib

from stackwarden.artifact.build import LayerFile, layer_tar

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(value: int, width: int) -> str:
    digits = ""
    while value:
        value, rest = divmod(value, 62)
        digits = _BASE62[rest] + digits
    return digits.rjust(width, "0")


def fake_github_token(seed: str = "stackwarden-sample") -> str:
    """A random GitHub personal access token with a valid checksum (not a real one)."""
    digest = hashlib.sha256(seed.encode()).digest()
    body = "".join(_BASE62[b % 62] for b in digest[:30])
    return "gh" + "p_" + body + _base62(zlib.crc32(body.encode()), 6)


def eicar() -> bytes:
    """The EICAR antivirus test file (assembled here so this module does not contain it)."""
    head = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$"
    tail = "EICAR-STANDARD-ANTIVIRUS-" + "TEST-FILE!$H+H*"
    return (head + tail).encode()


DOCKERFILE = b"""FROM python:latest
USER root
ADD https://example.com/install.sh /tmp/install.sh
RUN curl -fsSL https://example.com/setup.sh | sh
RUN apt-get update && apt-get install -y sudo
ENV DB_PASSWORD=supersecret123
EXPOSE 22
CMD ["python3", "-m", "flask", "run"]
"""

DEPLOYMENT = b"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: sample-app
spec:
  replicas: 1
  selector:
    matchLabels: {app: sample-app}
  template:
    metadata:
      labels: {app: sample-app}
    spec:
      hostNetwork: true
      containers:
        - name: app
          image: registry.example.com/sample-app:latest
          securityContext:
            privileged: true
            runAsUser: 0
"""


def planted_layer() -> bytes:
    """The app's own files: settings with a token, a deploy manifest, a Dockerfile, EICAR."""
    settings = f'GITHUB_TOKEN = "{fake_github_token()}"\nDEBUG = True\n'.encode()
    return layer_tar([
        LayerFile("app/config/settings.py", settings),
        LayerFile("app/Dockerfile", DOCKERFILE),
        LayerFile("app/deploy/deployment.yaml", DEPLOYMENT),
        LayerFile("tmp/eicar.com", eicar() + b"\n"),
    ])


def cleanup_layer() -> bytes:
    """A later `RUN rm /tmp/eicar.com`: the file still ships in the layer below."""
    return layer_tar([LayerFile("tmp/eicar.com", type="whiteout")])
