"""`dnncost bench`: measure the store's networks on phones over adb, or on this host."""

from __future__ import annotations

from pathlib import Path

import click

from dnncost.artifacts import write_latency_csv
from dnncost.cli.common import echo, quiet, store_option, verbose
from dnncost.paths import safe_name


@click.command("bench")
@click.option("--device", required=True,
              help="Serial, comma list, `all` attached devices, or `local` (this host).")
@click.option("--networks", help="Comma list of network names (default: all in the store).")
@click.option("--adb", "adb_servers", multiple=True, metavar="HOST:PORT",
              help="adb server to use (repeatable; default 127.0.0.1:5037).")
@click.option("--benchmark-binary", type=click.Path(),
              help="benchmark_model build for the devices' ABI (default: cached/downloaded).")
@click.option("--precision", type=click.Choice(["int8", "fp32"]), default="int8",
              show_default=True, help="Which network file to run.")
@click.option("--delegate", type=click.Choice(["cpu", "xnnpack", "gpu", "nnapi"]),
              default="cpu", show_default=True, help="cpu: builtin kernels, no delegate.")
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True,
              help="--num_threads.")
@click.option("--core-mask", default="big", show_default=True,
              help="`big` (fastest cores, one per thread), `all` (no pinning) or a hex mask.")
@click.option("--warmup-runs", type=click.IntRange(0), default=5, show_default=True,
              help="Untimed runs first.")
@click.option("--runs", type=click.IntRange(1), default=30, show_default=True,
              help="Timed runs.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0, min_open=True),
              default=600.0, show_default=True,
              help="Seconds before a hung run becomes an error row.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the per-device shuffled order.")
@click.option("--canary-every", type=click.IntRange(0), default=10, show_default=True,
              help="Re-measure a canary network every N networks (0: off).")
@click.option("--drift-tolerance", type=click.FloatRange(min=0), default=0.05,
              show_default=True,
              help="Canary change (fraction) that triggers cool-down and re-measurement.")
@click.option("--drift-cooldown", "drift_cooldown_s", type=click.FloatRange(min=0),
              help="Seconds to rest after a drift (default 60; 0 with --device local).")
@click.option("--max-temp", "max_temp_c", type=float,
              help="Wait before a run while the device is hotter (degrees C).")
@click.option("--max-temp-wait", "max_temp_wait_s", type=click.FloatRange(min=0),
              default=300.0, show_default=True, help="Longest wait for --max-temp, in seconds.")
@click.option("--cooldown", "cooldown_s", type=click.FloatRange(min=0), default=0.0,
              show_default=True, help="Seconds between runs.")
@click.option("--signature", type=click.Path(),
              help="signature.json or MODEL_DIR: measure only that signature set.")
@click.option("--local-profile", "local_profiles", default="t1", show_default=True,
              help="With --device local: tN or tN-xnnpack names, e.g. t1,t1-xnnpack,t2-xnnpack.")
@click.option("--reconnect-wait", "reconnect_wait_s", type=click.FloatRange(min=0),
              default=10.0, show_default=True,
              help="Seconds a vanished device gets to come back.")
@click.option("--wait", is_flag=True,
              help="If another sweep of the device into this store runs, wait for it.")
@store_option
def bench(device: str, networks: str | None, adb_servers: tuple[str, ...],
          benchmark_binary: str | None, precision: str, delegate: str, threads: int,
          core_mask: str, warmup_runs: int, runs: int, timeout_s: float, seed: int,
          canary_every: int, drift_tolerance: float, drift_cooldown_s: float | None,
          max_temp_c: float | None, max_temp_wait_s: float, cooldown_s: float,
          signature: str | None, local_profiles: str, reconnect_wait_s: float,
          wait: bool, store_path: str) -> None:
    """Measure every network not yet measured on the device(s), resumably.

    \b
    Examples:
      dnncost bench --device 98AX1Y8LK
      dnncost bench --device all --adb 10.0.0.5:5037 --adb 10.0.0.6:5037
      dnncost bench --device local --local-profile t1,t1-xnnpack,t2-xnnpack
      dnncost bench --device 98AX1Y8LK --signature models/collab
    """
    from dnncost.bench.driver import bench as run_bench
    from dnncost.bench.farm import format_summary
    from dnncost.bench.protocol import RunConfig
    from dnncost.bench.sweep import SweepOptions
    from dnncost.errors import DeviceError

    run = RunConfig(threads=threads, core_mask=core_mask, delegate=delegate,
                    precision=precision, warmup_runs=warmup_runs, runs=runs,
                    timeout_s=timeout_s)
    options = SweepOptions(seed=seed, canary_every=canary_every,
                           drift_tolerance=drift_tolerance, drift_cooldown_s=drift_cooldown_s,
                           max_temp_c=max_temp_c, max_temp_wait_s=max_temp_wait_s,
                           cooldown_s=cooldown_s, wait=wait)
    names = [n.strip() for n in networks.split(",") if n.strip()] if networks else None
    report = run_bench(store_path, device, run, options, names, list(adb_servers),
                       benchmark_binary, local_profiles, signature, show_progress=not quiet(),
                       reconnect_wait_s=reconnect_wait_s, show_output=verbose())
    echo(format_summary(report.summaries))
    for device_id, rows in report.signature_rows.items():
        csv_path = write_latency_csv(Path(store_path).parent
                                     / f"signature-{safe_name(device_id)}.csv", rows)
        click.echo(f"next: dnncost adapt {report.model_dir} --measurements {csv_path} "
                   f"-o {report.model_dir}-{safe_name(device_id)} --device {device_id}")
    if report.gone:
        raise DeviceError(
            f"{len(report.gone)} device(s) did not finish "
            f"({'; '.join(f'{s.device_id}: {s.status}' for s in report.gone)}): fix that and "
            "rerun the same command; finished work is in the store and only pending "
            "networks run again")
    all_failed = [s for s in report.summaries if s.failed and not s.done]
    if all_failed:
        raise DeviceError(
            "every run failed on " + "; ".join(f"{s.device_id} ({s.failed} of {s.failed})"
                                               for s in all_failed)
            + f", the first: {' '.join(str(all_failed[0].first_error).split())[:300]}; all "
            "errors are in the store "
            "(`dnncost data info`; `dnncost -v bench` prints the tool's output); fix the cause "
            "and rerun")


COMMANDS = [bench]
