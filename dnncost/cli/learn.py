"""`dnncost train | evaluate | adapt | predict`: cost models that generalize across devices.

Option names of the IISWC 2020 paper's code work as aliases (--learning_type,
--sampling_type, --numSamples, --model, --name).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import click

from dnncost.cli.common import echo, open_store, store_option

_MODES = ("individual", "combined", "collaborative")
_MODELS = ("xgb", "lstm", "lowrank", "hybrid")
_SAMPLINGS = ("random", "mutual_info", "spearmanCorr", "statistical", "d_optimal",
              "greedy")


@click.command("train")
@click.option("--mode", "--learning_type", "mode", type=click.Choice(_MODES),
              default="collaborative", show_default=True)
@click.option("--model", type=click.Choice(_MODELS),
              help="The cost model [lowrank, the most accurate; xgb outside collaborative "
                   "mode].")
@click.option("--sampling", "--sampling_type", "sampling", type=click.Choice(_SAMPLINGS),
              default="d_optimal", show_default=True, help="Signature selection.")
@click.option("--signature-size", "--numSamples", "k", type=click.IntRange(1), default=10,
              show_default=True, help="Networks in the signature set.")
@click.option("-o", "--out", "out_dir", type=click.Path(), help="MODEL_DIR to write.")
@click.option("--name", help="Run name: writes models/NAME when -o is not given.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--keep-drifting", is_flag=True,
              help="Give devices flagged as drifting full weight (default 0.3).")
@click.option("--lstm-epochs", type=click.IntRange(1), default=200, show_default=True)
@click.option("--exclude-device", "exclude_devices", multiple=True, metavar="DEVICE",
              help="Leave a device out of training (repeatable), e.g. your test phone.")
@click.option("--config", "config_hash", metavar="HASH",
              help="Train on the measurements of this config (`dnncost data info` lists "
                   "them); default: the most measured one. Configs are never mixed.")
@store_option
def train(mode: str, model: str | None, sampling: str, k: int, out_dir: str | None,
          name: str | None, seed: int, keep_drifting: bool, lstm_epochs: int,
          exclude_devices: tuple[str, ...], config_hash: str | None,
          store_path: str) -> None:
    """Train a cost model on every device of the store.

    Example: dnncost train --mode collaborative --model lowrank --sampling d_optimal
    --signature-size 10 -o models/collab
    """
    from dnncost.learn.training import TrainOptions, default_model
    from dnncost.learn.workflow import train_to_dir
    from dnncost.learn.lowrank import GROSS_RATIO

    model = model or default_model(mode)
    target = out_dir or str(Path("models") / (name or f"{mode}-{model}"))
    options = TrainOptions(mode, model, sampling, k, seed, keep_drifting,
                           lstm_epochs=lstm_epochs)
    with open_store(store_path) as store:
        manifest = train_to_dir(store, options, target, exclude_devices, config_hash)
    report = manifest["report"]
    for other in manifest["other_configs"]:
        click.echo(f"dnncost: warning: not mixed in: {other['n']} measurements under config "
                   f"{json.dumps(other['config'], sort_keys=True)}; train on them with "
                   f"--config {other['config_hash']}", err=True)
    echo(f"trained {mode} {model} on {report['devices']} devices x {report['networks']} "
         f"networks in {report['train_seconds']} s -> {target}")
    if report["ignored_measurements"]:
        per_device = Counter(m["device"] for m in report["ignored_measurements"])
        echo(f"left out of training: {sum(per_device.values())} measurement(s) more than "
             f"{GROSS_RATIO:g}x off what the other devices predict (" + ", ".join(
                 f"{d} {n}" for d, n in per_device.most_common(5))
             + (", ..." if len(per_device) > 5 else "") + f"; all in {target}/report.md); "
             "the store keeps them")
    if report.get("pruning_devices"):
        echo("prune dead compute (their NAS-Bench-201 cells with dead edges read as the pruned "
             "twins): " + ", ".join(report["pruning_devices"]))
    if report["drifting_devices"]:
        echo(f"drifting devices (training weight {report['drifting_weight']}): "
             + ", ".join(report["drifting_devices"]))


@click.command("evaluate")
@click.option("--mode", "--learning_type", "modes", multiple=True, type=click.Choice(_MODES),
              help="Repeat for several; default all.")
@click.option("--model", "models", multiple=True, type=click.Choice(_MODELS))
@click.option("--sampling", "--sampling_type", "samplings", multiple=True,
              type=click.Choice(_SAMPLINGS))
@click.option("--signature-size", "--numSamples", "ks", multiple=True, type=click.IntRange(1))
@click.option("--regime", "regimes", multiple=True, type=click.Choice(("seen", "unseen")))
@click.option("--group-by", type=click.Choice(("model", "device-type")), default="model",
              show_default=True, help="Hold out devices by phone model (5 folds) or each "
                                      "device type in turn (GPU / CPU / phone / other).")
@click.option("--folds", type=click.IntRange(2), default=5, show_default=True)
@click.option("--config", "config_hash", metavar="HASH",
              help="Evaluate on this config's measurements (default: the most measured).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--lstm-epochs", type=click.IntRange(1), default=200, show_default=True)
@click.option("-o", "--out", "out_dir", type=click.Path(), default="reports/evaluation",
              show_default=True)
@store_option
def evaluate(modes: tuple[str, ...], models: tuple[str, ...], samplings: tuple[str, ...],
             ks: tuple[int, ...], regimes: tuple[str, ...], group_by: str, folds: int,
             config_hash: str | None, seed: int, lstm_epochs: int, out_dir: str,
             store_path: str) -> None:
    """Leave-devices-out accuracy (devices grouped by phone model, or by device type),
    seen/unseen networks.

    Example: dnncost evaluate --model lowrank --model xgb --sampling d_optimal
    --signature-size 10 -o reports/eval
    """
    from dnncost.learn.dataset import load_dataset
    from dnncost.errors import InputError
    from dnncost.learn.report import grid, is_iiswc, markdown_table, run_grid, write_report
    from dnncost.learn.training import TrainOptions

    if set(modes) == {"individual"} and set(regimes) == {"seen"}:
        raise InputError("individual mode fits each device on the networks it would be "
                         "scored on: evaluate it with --regime unseen")
    configs = grid(TrainOptions(seed=seed, lstm_epochs=lstm_epochs), modes or _MODES,
                   models or ("xgb", "lowrank", "hybrid"), samplings or _SAMPLINGS, ks or (5, 10, 20))
    with open_store(store_path) as store:
        data = load_dataset(store, config_hash)
    results = run_grid(data, configs, regimes or ("seen", "unseen"), folds, seed,
                       group_by=group_by)
    write_report(results, out_dir, is_iiswc(data))
    click.echo(markdown_table(results, is_iiswc(data)))
    echo(f"wrote {out_dir}/evaluation.md, evaluation.json and plots")


@click.command("adapt")
@click.argument("model_dir", type=click.Path(), required=False)
@click.option("--population", type=click.Choice(["iiswc"]),
              help="Adapt the model trained on the phones shipped with dnncost (trained "
                   "once with `make train`'s defaults, then kept in ~/.cache/dnncost).")
@click.option("--measurements", type=click.Path(),
              help="NEW.csv with columns network,latency_ms (medians of the runs); a "
                   "combined-mode model may do with the hardware options alone.")
@click.option("-o", "--out", "out_dir", type=click.Path(), required=True,
              help="DEVICE_MODEL_DIR to write.")
@click.option("--device", "device_id", help="The device's name (refused if in training).")
@click.option("--max-freq-mhz", type=float, help="combined mode: CPU max frequency.")
@click.option("--ram-mb", type=float, help="combined mode: RAM.")
@click.option("--cpu", help="combined mode: CPU name as in the training store.")
@click.option("--cores", type=click.IntRange(min=1), help="combined mode: CPU core count.")
def adapt(model_dir: str | None, population: str | None, measurements: str | None,
          out_dir: str, device_id: str | None, max_freq_mhz: float | None,
          ram_mb: float | None, cpu: str | None, cores: int | None) -> None:
    """Fit a trained model (MODEL_DIR, or --population iiswc) to a new device from its
    signature measurements.

    \b
    Examples:
      dnncost adapt --population iiswc --measurements new_phone.csv -o models/new_phone
      dnncost adapt models/collab --measurements new_phone.csv -o models/new_phone
    """
    from dnncost.errors import InputError
    from dnncost.learn.workflow import adapt_to_dir
    from dnncost.records import Device

    if (model_dir is None) == (population is None):
        raise InputError("give MODEL_DIR or --population iiswc (one of them)")
    if population is not None:
        from dnncost.learn.population_model import population_model

        model_dir = str(population_model(population=population, echo=echo).model_dir)
    device = Device(device_id or "new-device", max_freq_mhz=(max_freq_mhz,)
                    if max_freq_mhz else (), ram_mb=ram_mb, cores=cores,
                    info={"cpu": cpu} if cpu else {})
    result = adapt_to_dir(str(model_dir), measurements, out_dir, device if (
        device_id or max_freq_mhz or ram_mb or cpu or cores) else None)
    echo(f"adapted {population or model_dir} from {result['measured_networks']} "
         f"measurements -> {out_dir}")
    if result["fit_score"]:
        from dnncost.learn.workflow import describe_fit

        echo(f"fit: {describe_fit(result['fit_score'])}")
    if result["own_cost_weight"]:
        echo(f"own layer costs: {result['own_cost_weight']:.0%} of each known network's "
             "placement is a layer-cost model fitted to these measurements (the training "
             "devices' structure explains them poorly)")
    if result.get("dead_compute") == "pruned":
        echo("dead compute: pruned (its NAS-Bench-201 cells with dead edges take their pruned "
             "twins' time, as a compiled graph runs them)")
    if result["warning"]:
        click.echo(f"dnncost: warning: {result['warning']}", err=True)


@click.command("predict")
@click.argument("model", type=click.Path())
@click.option("--networks", help="Comma-separated network names (default: all).")
@click.option("--specs", "specs_path", type=click.File("r"),
              help="Spec strings, one per line (- for stdin): prints one latency_ms a line.")
@click.option("--tflite", "tflite_paths", multiple=True, type=click.Path(),
              help="A .tflite file to predict from its layer table (repeatable).")
@click.option("--csv", "csv_path", type=click.Path(), help="Write network,latency_ms here.")
@store_option
def predict(model: str, networks: str | None, specs_path: Any, tflite_paths: tuple[str, ...],
            csv_path: str | None, store_path: str) -> None:
    """Predicted latency (ms) on an adapted device: of the store's networks, or of spec
    strings or .tflite files (MODEL may then be a DEVICE_MODEL_DIR or an exported .onnx).

    \b
    Examples:
      dnncost predict models/new_phone --networks iiswc-001,iiswc-002
      my_search.py | dnncost predict new_phone.onnx --specs - | ...
      dnncost predict new_phone.onnx --tflite mobilenet_v2.tflite
    """
    from dnncost.errors import InputError

    if sum(bool(x) for x in (networks, specs_path, tflite_paths)) > 1:
        raise InputError("give one of --networks, --specs and --tflite")
    if networks is not None and not [n for n in networks.split(",") if n.strip()]:
        raise InputError(f"--networks {networks!r} names no network: give names, comma "
                         "separated")
    if specs_path is not None:
        try:
            for ms in _spec_latencies(model, specs_path):
                click.echo(f"{ms:.4f}")  # one line per spec, flushed: a search can pipe through
        except UnicodeDecodeError:
            raise InputError("the spec lines are not UTF-8 text: send spec strings, one a "
                             "line") from None
        return
    if tflite_paths:
        from dnncost.learn.workflow import tflite_predictions

        rows, warning = tflite_predictions(model, tflite_paths)
        if warning:
            click.echo(f"dnncost: warning: {warning}", err=True)
    else:
        from dnncost.learn.workflow import predict_rows

        names = [n.strip() for n in networks.split(",") if n.strip()] if networks else None
        with open_store(store_path) as store:
            rows = predict_rows(model, store, names)
    from dnncost.artifacts import latency_csv, write_latency_csv

    if csv_path:
        write_latency_csv(csv_path, rows, decimals=4)
        echo(f"wrote {len(rows)} predictions to {csv_path}")
    else:
        click.echo(latency_csv(rows, decimals=4), nl=False)


def _spec_latencies(model: str, lines: Any) -> Iterator[float]:
    """Each spec line's latency as it comes; then a warning for the specs that lie outside
    the training networks' range."""
    from dnncost.errors import InputError
    from dnncost.gen.spec import ASCII_SPACES
    from dnncost.learn.features import spec_features
    from dnncost.learn.ranges import range_warning

    specs: list[str] = []
    if model.endswith(".onnx"):
        from dnncost.export.runtime import Predictor, iter_spec_lines

        predictor = Predictor.load(model)
        ranges = predictor.model_metadata.get("feature_ranges")
        for spec, ms in iter_spec_lines(predictor, lines):
            specs.append(spec)
            yield ms
    else:
        from dnncost.learn.workflow import spec_predictor

        predict, ranges = spec_predictor(model)
        for number, line in enumerate(lines, start=1):
            spec = line.strip(ASCII_SPACES)
            if spec and not spec.startswith("#"):
                specs.append(spec)
                try:
                    yield predict(spec)
                except InputError as exc:  # named by its line, as the .onnx path does
                    raise InputError(f"line {number}: {exc}") from None
    warning = range_warning(spec_features(specs), ranges) if ranges and specs else None
    if warning:
        click.echo(f"dnncost: warning: {warning}", err=True)


COMMANDS = [train, evaluate, adapt, predict]
