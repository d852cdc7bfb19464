"""`dnncost demo` (the main job end to end) and `dnncost report`."""

from __future__ import annotations

import click

from dnncost.cli.common import echo, quiet, store_option
from dnncost.demo import LOCAL_PROFILES


@click.command()
@click.option("--iiswc", "iiswc_dir", type=click.Path(),
              help="Run on the IISWC 2020 phones from this directory instead of this host.")
@click.option("--count", default=36, show_default=True, help="Networks to generate.")
@click.option("--profiles", default=LOCAL_PROFILES, show_default=True,
              help="Local profiles that act as devices.")
@click.option("--runs", default=10, show_default=True, help="Timed runs per measurement.")
@click.option("--signature-size", "k", default=None, type=int,
              help="Signature size of the held-out device [5 local, 10 iiswc].")
@click.option("--out", "out_dir", default="data", show_default=True, type=click.Path(),
              help="Where models, model.onnx and report/ go.")
@click.option("--seed", default=0, show_default=True)
@store_option
def demo(iiswc_dir: str | None, count: int, profiles: str, runs: int, k: int | None,
         out_dir: str, seed: int, store_path: str) -> None:
    """Generate, measure on local profiles, learn, adapt, export, report: end to end.

    Example: dnncost demo            (make demo; make demo-iiswc runs --iiswc DIR)
    """
    from dnncost.demo import DemoOptions, run_demo

    if iiswc_dir:
        options = DemoOptions(store_path, out_dir, "iiswc", iiswc_dir, seed=seed, k=k or 10,
                              model="lowrank", sampling="d_optimal", ks=(5, 10, 20),
                              samplings=("random", "mutual_info", "d_optimal"), folds=5)
    else:
        options = DemoOptions(store_path, out_dir, "local", count=count, seed=seed,
                              profiles=profiles, runs=runs, k=k or 5)
    run_demo(options, echo, show_progress=not quiet())


@click.command()
@click.option("-o", "--out", "out_dir", default="data/report", show_default=True,
              type=click.Path(), help="Directory of index.html (and the models it trains).")
@click.option("--signature-size", "k", default=5, show_default=True)
@click.option("--folds", default=None, type=int, help="Device folds [one per device group].")
@click.option("--held-out", default=None, help="Device to adapt to [the last one].")
@store_option
def report(out_dir: str, k: int, folds: int | None, held_out: str | None,
           store_path: str) -> None:
    """Evaluate the store's devices and write a static HTML report (OUT/index.html).

    Example: dnncost report --store data/dnncost.sqlite -o data/report
    """
    from dnncost.demo import DemoOptions, run_demo

    options = DemoOptions(store_path, out_dir, "store", k=k, folds=folds, held_out=held_out,
                          report_dir=out_dir)
    run_demo(options, echo, show_progress=not quiet())


COMMANDS = [demo, report]
