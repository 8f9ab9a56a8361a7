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
    """Build the bundled sample image, scan it with every scanner, and write the HTML report.

    The image is assembled from real packages: Debian .debs fetched with apt-get, Python wheels fetched with pip and npm tarballs from the npm registry (downloads are cached). The app layer plants a fake token, the EICAR test file (deleted again by the top layer: it still ships below) and textbook misconfigurations. The vulnerability database is built from advisories shipped with StackWarden (real vulnerabilities of those packages, stated as facts). Everything runs locally: embedded SQLite, no servers.
    """  # noqa: E501
    from stackwarden.report import render_scan
    from stackwarden.sample.image import SAMPLE_ADVISORIES, build_sample_image
    from stackwarden.scan import scan
    from stackwarden.vulndb.build import build_database

    db_path = directory.parent / "vulndb.sqlite"
    html = directory.parent / "report.html"
    with progress_status(True) as progress:
        if progress:
            progress("building the sample image", 0, 0)
        path = build_sample_image(directory)
        build_database([str(SAMPLE_ADVISORIES)], db_path)
        result = scan(f"oci-dir:{path}", db_path=db_path, progress=progress)
    write_output(render_scan(result, "table"), None)
    write_output(render_scan(result, "html"), html)
    stderr.print(f"\nSample image: {path}   database: {db_path}   HTML report: {html}\nTry:\n"
                 f"  stackwarden sbom oci-dir:{path} --format cyclonedx\n"
                 f"  stackwarden scan oci-dir:{path} --db {db_path} --format sarif:out.sarif "
                 "--format html:report.html", highlight=False, soft_wrap=True)
