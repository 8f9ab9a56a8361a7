"""`stackwarden demo`: build the sample image from real packages and inventory it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stackwarden.cli.common import handle_errors, progress_status, stderr, write_output


@handle_errors
def demo(
    directory: Annotated[Path, typer.Option(
        "--dir", help="Where to write the sample image (an OCI layout).")]
    = Path(".cache/demo/sample-image"),
) -> None:
    """Build the bundled sample image and print its SBOM.

    The image is assembled from real packages: Debian .debs fetched with apt-get, Python wheels fetched with pip and npm tarballs from the npm registry (downloads are cached). It is then inventoried exactly as `stackwarden sbom oci-dir:DIR` would.
    """
    from stackwarden.catalog.sbom import generate_sbom
    from stackwarden.report import render_sbom
    from stackwarden.sample.image import build_sample_image

    with progress_status(True) as progress:
        if progress:
            progress("building the sample image", 0, 0)
        path = build_sample_image(directory)
        result = generate_sbom(f"oci-dir:{path}", progress=progress)
    write_output(render_sbom(result, "table"), None)
    stderr.print(f"\nSample image: {path}\nTry: stackwarden sbom oci-dir:{path} --format "
                 "cyclonedx", highlight=False)
