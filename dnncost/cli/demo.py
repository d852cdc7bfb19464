"""`dnncost demo` (the main job end to end) and `dnncost report`."""

from __future__ import annotations

import click

from dnncost.cli.common import echo, quiet, store_option
from dnncost.demo_local import LOCAL_PROFILES


@click.command()
@click.option("--local", "local", is_flag=True,
              help="The older demo instead: this host's profiles act as the devices.")
@click.option("--iiswc", "iiswc_dir", type=click.Path(),
              help="The population from the published IISWC dataset in this directory "
                   "instead of the copy shipped with dnncost.")
@click.option("--no-host", is_flag=True, help="Do not measure this computer (step 3).")
@click.option("--count", default=36, show_default=True, help="--local: networks to generate.")
@click.option("--profiles", default=LOCAL_PROFILES, show_default=True,
              help="--local: profiles that act as devices.")
@click.option("--runs", default=10, show_default=True, help="Timed runs per measurement.")
@click.option("--signature-size", "k", default=None, type=int,
              help="--local: signature size of the held-out device [5].")
@click.option("--out", "out_dir", default="data", show_default=True, type=click.Path(),
              help="Where models, .onnx files and report/ go.")
@click.option("--seed", default=0, show_default=True)
@store_option
def demo(local: bool, iiswc_dir: str | None, no_host: bool, count: int, profiles: str,
         runs: int, k: int | None, out_dir: str, seed: int, store_path: str) -> None:
    """The main job end to end on the phones shipped with dnncost (make demo).

    Evaluates the collaborative model on 84 phones, holds three out end to end through
    ONNX, measures this computer through the real bench path, predicts new networks.

    \b
    Examples:
      dnncost demo                 (make demo)
      dnncost demo --local         (make demo-local: this host's profiles as devices)
    """
    if local:
        from dnncost.demo_local import DemoOptions, run_demo

        run_demo(DemoOptions(store_path, out_dir, "local", count=count, seed=seed,
                             profiles=profiles, runs=runs, k=k or 5), echo,
                 show_progress=not quiet())
        return
    from dnncost.demo import MainDemoOptions, run_main_demo

    run_main_demo(MainDemoOptions(store_path, out_dir, iiswc_dir, seed=seed, host=not no_host,
                                  host_runs=runs), echo, show_progress=not quiet())


@click.command()
@click.option("-o", "--out", "out_dir", default="data/report", show_default=True,
              type=click.Path(), help="Directory of index.html (and the models it trains).")
@click.option("--signature-size", "k", default=5, show_default=True)
@click.option("--folds", default=None, type=click.IntRange(2),
              help="Device folds [one per device group].")
@click.option("--held-out", default=None, help="Device to adapt to [the last one].")
@store_option
def report(out_dir: str, k: int, folds: int | None, held_out: str | None,
           store_path: str) -> None:
    """Evaluate the store's devices and write a static HTML report (OUT/index.html).

    Example: dnncost report --store data/dnncost.sqlite -o data/report
    """
    from dnncost.demo_local import DemoOptions, run_demo

    options = DemoOptions(store_path, out_dir, "store", k=k, folds=folds, held_out=held_out,
                          report_dir=out_dir)
    run_demo(options, echo, show_progress=not quiet())


COMMANDS = [demo, report]
