"""`stackwarden demo`: build the sample image, scan it, and load the scan into a demo dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stackwarden.cli.common import handle_errors, progress_status, stderr, write_output


@handle_errors
def demo(
    directory: Annotated[Path, typer.Option(
        "--dir", help="Where to write the sample image (an OCI layout); the vulnerability "
        "database, the HTML report and the dashboard's data directory (server/) go beside it.")]
    = Path(".cache/demo/sample-image"),
    serve: Annotated[bool, typer.Option(
        "--serve", help="After the scan, serve the dashboard on 127.0.0.1 until Ctrl-C.")]
    = False,
    port: Annotated[int, typer.Option(
        help="Port for --serve (and the one the printed instructions name).", min=1,
        max=65535)] = 8080,
) -> None:
    """Build the bundled sample image, scan it with every scanner, write the HTML report and load the scan into a demo dashboard.

    The image is assembled from real packages: Debian .debs fetched with apt-get, Python wheels fetched with pip and npm tarballs from the npm registry (downloads are cached). The app layer plants a fake token, the EICAR test file (deleted again by the top layer: it still ships below) and textbook misconfigurations. The vulnerability database is built from advisories shipped with StackWarden (real vulnerabilities of those packages, stated as facts).

    The scan is then stored in a server data directory beside the image (.cache/demo/server: embedded SQLite, made on the first run and reused after), with an admin whose random password is written to admin-password there. Open it with `stackwarden server --data-dir .cache/demo/server`, or pass --serve. Everything runs locally: no servers to install.
    """  # noqa: E501
    from stackwarden.report import render_scan
    from stackwarden.sample.dashboard import prepare_demo_server
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
        if progress:
            progress("loading the scan into the demo dashboard", 0, 0)
        server = prepare_demo_server(directory.parent / "server", render_scan(result, "json"))
    write_output(render_scan(result, "table"), None)
    write_output(render_scan(result, "html"), html)
    data_dir = server.settings.data_dir
    stderr.print(f"\nSample image: {path}   database: {db_path}   HTML report: {html}\nTry:\n"
                 f"  stackwarden sbom oci-dir:{path} --format cyclonedx\n"
                 f"  stackwarden scan oci-dir:{path} --db {db_path} --format sarif:out.sarif "
                 "--format html:report.html", highlight=False, soft_wrap=True, markup=False)
    ingest = server.ingest
    password = (f"password {server.password} (shown once; kept in {server.password_file})"
                if server.created else f"password in {server.password_file}")
    port_flag = "" if port == 8080 else f" --port {port}"
    stderr.print(f"\nDashboard data: {data_dir} (asset {ingest.asset_id}, scan {ingest.scan_id}: "
                 f"{ingest.findings} findings, {ingest.new} new)\n"
                 + ("Serving it now" if serve else
                    f"Open it: stackwarden server --data-dir {data_dir}{port_flag}  (or make "
                    "demo-serve)\n  then")
                 + f" http://127.0.0.1:{port}/ and sign in as {server.username!r}, {password}",
                 highlight=False, soft_wrap=True, markup=False)
    if serve:
        from stackwarden.cli.server import run_server
        from stackwarden.sample.dashboard import demo_settings

        run_server(demo_settings(data_dir, port=port))
