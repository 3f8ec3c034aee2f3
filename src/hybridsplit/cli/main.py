"""The `hybridsplit` app: every command, registered here in the order `--help` lists them.

Each module holds the commands of one stage as plain functions (parse, call the library, print);
heavy libraries are imported inside the functions so `hybridsplit --help` stays fast.
"""

from __future__ import annotations

import sys

import typer

from hybridsplit.cli import bench, demo, export, lists, opprofile, privacy, report, serve, train
from hybridsplit.errors import HybridsplitError

app = typer.Typer(
    help="Privacy-preserving split inference: cut a network in two, train, export the device half "
    "to TFLite, check parity, benchmark and serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # help texts are plain: `[defence]` is a word, not Rich markup
)

app.command("train")(train.train)
app.command("export")(export.export)
app.command("verify")(export.verify)
app.command("list")(lists.list_)
app.add_typer(bench.bench_app, name="bench")
app.command("sweep")(bench.sweep)
app.command("profile")(opprofile.profile)
app.command("cuts")(lists.cuts)
app.command("defend")(train.defend)
app.command("privacy")(privacy.privacy)
app.command("report")(report.report)
app.command("serve")(serve.serve)
app.command("client")(serve.client)

demo_app = typer.Typer(help="The bundle in the user's hands: Android app assets and check, browser demo, sample windows.",
                       no_args_is_help=True, rich_markup_mode=None)
demo_app.command("samples")(demo.samples)
demo_app.command("android-assets")(demo.android_assets)
demo_app.command("android-check")(demo.android_check)
demo_app.command("android-jvm")(demo.android_jvm)
demo_app.command("web")(demo.web)
app.add_typer(demo_app, name="demo")


def main() -> None:
    try:
        app()
    except HybridsplitError as exc:  # safety net: library errors are one line, exit 2
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
