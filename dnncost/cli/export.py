"""`dnncost export`: a device-adapted cost model as .onnx (any language) or C (android_native)."""

from __future__ import annotations

import click

from dnncost.cli.common import echo, store_option


@click.command("export")
@click.argument("model_dir", type=click.Path())
@click.option("-o", "--out", "out_path", required=True, type=click.Path(),
              help="Output file: model.onnx, or model.c with --format c.")
@click.option("--format", "fmt", type=click.Choice(["onnx", "c"]), default=None,
              help="onnx (default) or c (a data file for android_native/); "
                   "default from the -o suffix.")
@click.option("--device", default=None,
              help="Name of the device the model was adapted to, for the metadata.")
@store_option
def export_cmd(model_dir: str, out_path: str, fmt: str | None, device: str | None,
               store_path: str) -> None:
    """Write a device model as one self-describing .onnx file (or C source).

    The file is written only when its predictions equal the Python model's within
    1e-4 relative on every network of the store.

    Example: dnncost export models/pixel4 -o pixel4.onnx
    """
    from dnncost.export.pipeline import export_model_dir

    result = export_model_dir(model_dir, out_path, fmt, store_path, device)
    kind = "C source" if result.kind == "c" else f"ONNX, {result.kind}"
    echo(f"wrote {result.path} ({kind}); parity on {result.rows_checked} networks, "
         f"max relative error {result.max_relative_error:.2g}")


COMMANDS = [export_cmd]
