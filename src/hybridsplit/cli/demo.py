"""`hybridsplit demo ...`: sample windows, the Android app's assets and static check, the web demo server.

main.py registers these on the `demo` sub-app."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hybridsplit.cli.common import bundle_opt, console, user_errors
from hybridsplit.errors import HybridsplitError

BundleOpt = Annotated[Path, bundle_opt("Bundle directory (manifest.json + device.tflite).")]
AppOpt = Annotated[Path, typer.Option("--app", help="The Android demo project.")]


@user_errors
def samples(
    bundle: BundleOpt = Path("bundles/default"),
    out: Annotated[Path, typer.Option(help="JSON file to write.")] = Path("samples.json"),
    n: Annotated[int, typer.Option(min=1, help="How many test windows (round-robin over classes).")] = 16,
) -> None:
    """Write test-split windows of a bundle in raw units (before normalisation) for the demo apps."""
    from hybridsplit.demos.samples import write_samples

    path = write_samples(bundle, out, n)
    console.print(f"{n} sample windows written to {path}")


@user_errors
def android_assets(
    bundle: BundleOpt = Path("bundles/default"),
    app: AppOpt = Path("android_demo"),
    n: Annotated[int, typer.Option(min=1, help="Sample windows to ship with the app.")] = 16,
) -> None:
    """Copy device.tflite + manifest.json (and samples.json) into the Android app's assets."""
    from hybridsplit.demos.android import copy_assets, static_check

    written = copy_assets(bundle, app, n)
    uses = static_check(app, bundle)
    for p in written:
        console.print(f"  {p}  ({p.stat().st_size:,} bytes)", highlight=False)
    console.print(f"assets ready; the app's {len(uses)} manifest/sample reads all match {bundle}. "
                  f"Build it with Android Studio or `./gradlew installDebug` in {app}/")


@user_errors
def android_check(bundle: BundleOpt = Path("bundles/default"), app: AppOpt = Path("android_demo")) -> None:
    """Static check: every manifest key and asset name the Android app reads exists in the bundle."""
    from hybridsplit.demos.android import static_check

    uses = static_check(app, bundle)
    console.print(f"static check ok: {len(uses)} key reads in {app} match {bundle}")


@user_errors
def android_jvm(
    bundle: BundleOpt = Path("bundles/default"),
    app: AppOpt = Path("android_demo"),
    build: Annotated[Path, typer.Option(help="Build folder (reused while no input changes).")] = Path("runs/android-jvm"),
) -> None:
    """Compile the app's Kotlin against stand-in Android/LiteRT classes; run its pure parts on the JVM
    and compare their bytes with the Python client's."""
    from hybridsplit.demos.android_jvm import jvm_check

    r = jvm_check(app, bundle, build)
    console.print(f"Kotlin compile ok; JVM check ok: {r['windows']} windows, int8 inputs ({r['input_bytes']} bytes) "
                  f"and wire messages ({r['message_bytes']} bytes each) equal the Python client's", highlight=False)


@user_errors
def web(
    bundle: BundleOpt = Path("bundles/default"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port of the page.")] = 8080,
    server: Annotated[str, typer.Option(help="Cloud server the page sends features to.")] = "http://127.0.0.1:8000",
    web_root: Annotated[Path, typer.Option("--web", help="The web demo folder.")] = Path("web_demo"),
) -> None:
    """Serve the browser demo: device.tflite in LiteRT.js, features sent to `hybridsplit serve`."""
    from hybridsplit.demos.web import DemoSite, make_server

    try:
        site = DemoSite(web_root, bundle, server)
        httpd = make_server(site, host, port)
    except OSError as exc:
        raise HybridsplitError(f"Cannot listen on {host}:{port} ({exc.strerror}); pick another --port") from exc
    url = f"http://{host}:{httpd.server_address[1]}"
    console.print(f"web demo at {url}/  (bundle {bundle}, cloud {server})\n"
                  f"the cloud half must allow this origin: hybridsplit serve --bundle {bundle} --cors-origin {url}\n"
                  f"then open {url}/#token=<the server's token>", highlight=False, soft_wrap=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
