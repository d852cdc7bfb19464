"""`dnncost data`: get measurements in and out of the store."""

from __future__ import annotations

import json

import click

from dnncost.cli.common import echo, open_store, store_option


@click.group()
def data() -> None:
    """Import, inspect and export the dataset store."""


@data.command("import-iiswc", short_help="The IISWC 2020 phones (embedded, or a DIR).")
@click.argument("directory", type=click.Path(), required=False)
@click.option("--precision", type=click.Choice(["int8", "fp32"]), default="int8",
              show_default=True, help="How the files' networks were measured.")
@click.option("--delegate", type=click.Choice(["cpu", "xnnpack", "gpu", "nnapi"]),
              default="cpu", show_default=True)
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True)
@store_option
def import_iiswc_cmd(directory: str | None, precision: str, delegate: str, threads: int,
                     store_path: str) -> None:
    """Import the IISWC 2020 dataset (118 networks x N phones): the 84 phones shipped
    with dnncost, or the published dataset in DIRECTORY.

    \b
    Examples:
      dnncost data import-iiswc
      dnncost data import-iiswc ../shared/datasets/iiswc2020
      dnncost data import-iiswc gpu-phones/ --delegate gpu   (measured with the GPU delegate)
    """
    from dnncost.importers import import_iiswc, iiswc_config

    with open_store(store_path, create=True) as store:
        result = import_iiswc(store, directory, iiswc_config(precision, threads, delegate))
    echo(f"imported {result.networks} networks, {result.devices} devices, "
         f"{result.measurements} measurements into {store_path} "
         f"({result.changed_rows} rows changed)")


@data.command("import-help", short_help="HELP's NAS-Bench-201 / FBNet latency tables.")
@click.argument("directory", type=click.Path())
@click.option("--space", type=click.Choice(["nasbench201", "fbnet", "fbnet224"]),
              default="nasbench201", show_default=True,
              help="The search space of the directory's architectures (fbnet: its "
                   "CIFAR-100 32x32 form; fbnet224: ImageNet).")
@store_option
def import_help_cmd(directory: str, space: str, store_path: str) -> None:
    """Import HELP's latency tables (latency/<setting>.pt): each setting a device, each
    architecture a network of the space.

    \b
    Example:
      dnncost data import-help HELP/data/nasbench201 --store nb201.sqlite
    """
    from dnncost.help_import import import_help

    with open_store(store_path, create=True) as store:
        result = import_help(store, directory, space)
    echo(f"imported {result.networks} networks, {result.devices} devices, "
         f"{result.measurements} measurements into {store_path} "
         f"({result.changed_rows} rows changed)")


@data.command("import-csv", short_help="Measurements made elsewhere, from CSV.")
@click.argument("measurements", type=click.Path())
@click.option("--layers", type=click.Path(), help="LAYERS.csv: per-layer tables.")
@click.option("--devices", type=click.Path(), help="DEVICES.csv: hardware descriptions.")
@store_option
def import_csv_cmd(measurements: str, layers: str | None, devices: str | None,
                   store_path: str) -> None:
    """Import measurements made elsewhere (columns device,network,latency_ms).

    Example: dnncost data import-csv runs.csv --layers layers.csv --devices phones.csv
    """
    from dnncost.csv_import import import_csv

    with open_store(store_path, create=True) as store:
        result = import_csv(store, measurements, layers, devices)
    echo(f"imported {result.measurements} measurements of {result.networks} networks on "
         f"{result.devices} devices ({result.changed_rows} rows changed)")
    if result.without_layers:
        shown = ", ".join(result.without_layers[:5]) + (" ..." if len(result.without_layers) > 5
                                                        else "")
        click.echo(f"dnncost: warning: {len(result.without_layers)} network(s) new to the "
                   f"store have no layer table ({shown}): a typo of a known name? Models "
                   "cannot predict them; give --layers to import their tables", err=True)


@data.command("export", short_help="The store's tables as CSV or Parquet.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv",
              show_default=True)
@click.option("-o", "--out", "out_dir", type=click.Path(), default="data/export",
              show_default=True, help="Directory for one file per table.")
@store_option
def export_cmd(fmt: str, out_dir: str, store_path: str) -> None:
    """Write the store's tables as tidy CSV or Parquet files.

    Example: dnncost data export --format parquet -o exported/
    """
    from dnncost.tables import export_tables

    with open_store(store_path) as store:
        paths = export_tables(store, out_dir, fmt)
    echo("wrote " + ", ".join(str(p) for p in paths))


@data.command("info", short_help="Table sizes and measurements per config.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--networks", "list_networks", is_flag=True,
              help="List the store's network names, one a line.")
@store_option
def info_cmd(as_json: bool, list_networks: bool, store_path: str) -> None:
    """Summarize the store: table sizes and measurements per config.

    Example: dnncost data info --store data/dnncost.sqlite
    """
    from dnncost.tables import summary

    with open_store(store_path) as store:
        if list_networks:
            click.echo("\n".join(n.name for n in store.networks()))
            return
        result = summary(store)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"{result['path']}: {result['networks']} networks, {result['layers']} layers, "
               f"{result['devices']} devices, {result['measurements']} measurements")
    for config in result["configs"]:
        click.echo(f"  config {config['config_hash']} {config['config']}: {config['devices']} "
                   f"devices x {config['networks']} networks, {config['ok']} ok, "
                   f"{config['failed']} failed")


@data.command("merge", short_help="Merge other stores into this one.")
@click.argument("others", nargs=-1, required=True, type=click.Path())
@store_option
def merge_cmd(others: tuple[str, ...], store_path: str) -> None:
    """Merge stores measured on other hosts or by other people into this one.

    Idempotent; devices and networks are matched by id; a measurement that differs
    from ours is kept apart (measurement_conflicts) and listed, never overwritten; a
    device's canary series comes along with its measurements.

    Example: dnncost data merge alice.sqlite bob.sqlite --store data/dnncost.sqlite
    """
    from dnncost.bench.merge import merge_store

    with open_store(store_path, create=True) as store:
        for other in others:
            report = merge_store(store, other)
            echo(f"merged {other}: {report.networks} networks, {report.devices} devices, "
                 f"{report.measurements} measurements added, {report.unchanged} unchanged, "
                 f"{len(report.conflicts)} conflicts, {report.canary_series} canary series")
            if report.canary_series_left_out:
                echo(f"  {report.canary_series_left_out} canary series of {other} disagree "
                     "with ours and were left out")
            for m in report.conflicts:
                echo(f"  conflict {m.device_id} / {m.network_id} / config {m.config_hash}: "
                     f"kept apart with source {other}")
