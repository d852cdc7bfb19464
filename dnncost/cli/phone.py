"""`dnncost phone SERIAL` (= `make phone DEVICE=SERIAL`): a new phone in ten measurements."""

from __future__ import annotations

import click

from dnncost.cli.common import echo, quiet, store_option


@click.command()
@click.argument("serial")
@click.option("--measure-all", is_flag=True,
              help="Measure the study's other networks too and print the adapted model's "
                   "measured accuracy on them (the honest check, once per phone).")
@click.option("--adb", "adb_servers", multiple=True, metavar="HOST:PORT",
              help="adb server to use (repeatable; default 127.0.0.1:5037).")
@click.option("--benchmark-binary", type=click.Path(),
              help="benchmark_model build for the phone's ABI (default: cached/downloaded).")
@click.option("--warmup-runs", type=click.IntRange(0), default=5, show_default=True)
@click.option("--runs", type=click.IntRange(1), default=30, show_default=True)
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=1), default=600.0,
              show_default=True, help="Seconds before a hung run becomes an error row.")
@click.option("--out", "out_dir", default="data", show_default=True, type=click.Path(),
              help="Where models/, the .tflite files and <phone>.onnx go.")
@click.option("--drift-cooldown", "drift_cooldown_s", type=float,
              help="Seconds to rest after the canary drifts (default 60).")
@store_option
def phone(serial: str, measure_all: bool, adb_servers: tuple[str, ...],
          benchmark_binary: str | None, warmup_runs: int, runs: int, timeout_s: float,
          out_dir: str, drift_cooldown_s: float | None, store_path: str) -> None:
    """Measure a phone's signature, adapt the population model to it, export its .onnx.

    SERIAL is the phone's adb serial (`adb devices`), or `local` for this computer.

    \b
    Examples:
      dnncost phone 98AX1Y8LK                 (make phone DEVICE=98AX1Y8LK)
      dnncost phone 98AX1Y8LK --measure-all   (and score the model on every network)
    """
    from dnncost.phone import PhoneOptions, run_phone

    extra = {} if drift_cooldown_s is None else {"drift_cooldown_s": drift_cooldown_s}
    run_phone(PhoneOptions(serial, store_path, out_dir, adb_servers, benchmark_binary,
                           measure_all, warmup_runs, runs, timeout_s, bench_extra=extra),
              echo, show_progress=not quiet())


COMMANDS = [phone]
