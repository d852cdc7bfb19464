"""`dnncost gen` (sample and convert networks) and `dnncost layers` (features of any
.tflite file or spec)."""

from __future__ import annotations

import csv
import sys
from dataclasses import asdict, fields
from typing import Any, Iterable

import click

from dnncost.cli.common import echo, open_store, progress, store_option, verbose
from dnncost.records import Layer


@click.command("gen")
@click.option("--space",
              help="Search space: mobileopt (the IISWC 2020 paper's), efficient, "
                   "nasbench201, fbnet, fbnet224, or iiswc (the 118 networks that study "
                   "measured, named iiswc-000 ...) [mobileopt; with --networks, theirs].")
@click.option("--count", type=int, help="Networks to make [100; iiswc: all 118].")
@click.option("--seed", default=42, show_default=True, type=int, help="Sampler seed.")
@click.option("--precision", "precisions", multiple=True, default=("int8",),
              show_default=True, help="fp32 and/or int8 (repeat the option for both).")
@click.option("--out", "out_dir", default="data/models", show_default=True,
              type=click.Path(), help="Directory of the .tflite files.")
@click.option("--jobs", type=int, default=None, help="Worker processes [all cores].")
@click.option("--networks", help="Comma list of network names of a fixed space "
                                 "(e.g. iiswc-000,iiswc-113) or of a NAS benchmark "
                                 "(nb201-..., fbnet-...).")
@click.option("--builder", type=click.Choice(["direct", "tf"]), default="direct",
              show_default=True,
              help="direct: write the .tflite flatbuffer without TensorFlow (its "
                   "converter still makes NAS-Bench-201's cells); tf: TensorFlow's "
                   "converter for every network (the reference).")
@store_option
def gen(space: str | None, count: int | None, seed: int, precisions: tuple[str, ...],
        out_dir: str, jobs: int | None, networks: str | None, builder: str,
        store_path: str) -> None:
    """Sample networks from a search space, write them as .tflite, register them.

    \b
    Examples:
      dnncost gen --space mobileopt --count 100 --seed 42 --precision int8
      dnncost gen --space iiswc       # the study's networks, to measure a phone's signature
    """
    from dnncost.gen.pipeline import generate, space_of_names

    def bar(items: Iterable[Any], total: int) -> Iterable[Any]:
        return progress(items, total=total, desc="converting")

    with open_store(store_path, create=True) as store:
        names = [n.strip() for n in networks.split(",") if n.strip()] if networks else None
        space = space or (space_of_names(names) if names else "mobileopt")
        result = generate(store, space, count, seed, precisions, out_dir, jobs, bar,
                          verbose(), names, builder)
    echo(f"{result.networks} {space} networks in {store_path}: {result.converted} "
         f"converted ({result.files_written} files written to {result.out_dir}), "
         f"{result.networks - result.converted} already there")


@click.command("layers")
@click.argument("model", required=False, type=click.Path())
@click.option("--spec", "spec_text", help="A network spec string instead of a .tflite file.")
def layers(model: str | None, spec_text: str | None) -> None:
    """Print the per-layer feature table (CSV) of any .tflite file or of a spec.

    Example: dnncost layers mobilenet_v2.tflite > features.csv
    """
    from dnncost.errors import InputError

    if (model is None) == (spec_text is None):
        raise InputError("give either a .tflite file or --spec 'r224 ...', not both or none")
    if spec_text is not None:
        from dnncost.gen.layers import layer_table
        from dnncost.gen.spec import parse_spec

        rows = layer_table(parse_spec(spec_text))
    else:
        from dnncost.gen.tflite_layers import tflite_layer_table

        rows = tflite_layer_table(model or "")
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([f.name for f in fields(Layer)])
    for row in rows:
        writer.writerow(["" if v is None else v for v in asdict(row).values()])


COMMANDS = [gen, layers]
