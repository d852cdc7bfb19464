"""The `dnncost` command: a thin layer that parses options, calls one function, writes.

Each stage's commands live in their own module here and import their stage lazily,
so `dnncost --help` stays fast.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from dnncost import __version__
from dnncost.errors import DnncostError

_WORKFLOW = """Predict how fast a neural network runs on a phone, before running it there.

\b
One phone: dnncost phone SERIAL   (its signature measured, the population model
           adapted to it, its model.onnx written)
Workflow:
  1. dnncost gen        sample networks, convert them to .tflite (fp32/int8)
  2. dnncost bench      measure them on phones over adb, or --device local
  3. dnncost train      learn a cost model (collaborative: signature set)
     dnncost evaluate   leave-devices-out accuracy
  4. dnncost adapt      fit the model to a new phone from its signature runs
     dnncost predict    predicted latency_ms for networks or specs
  5. dnncost export     the model as .onnx (or C) for any language
Data: dnncost data import-iiswc | import-help | import-csv | export | info | merge
Help: dnncost doctor (checks the set-up), dnncost report (HTML report)
"""


# Every command, where it lives and what it does: `dnncost --help` lists this table and
# imports no command module; running a command imports only its own (tests check that
# each line here is its command's first sentence).
COMMANDS: dict[str, tuple[str, str]] = {
    "adapt": ("dnncost.cli.learn:adapt", "Fit a trained model (MODEL_DIR, or --population "
              "iiswc) to a new device from its signature measurements."),
    "bench": ("dnncost.cli.bench:bench", "Measure every network not yet measured on the "
              "device(s), resumably."),
    "data": ("dnncost.cli.data:data", "Import, inspect and export the dataset store."),
    "demo": ("dnncost.cli.demo:demo", "The main job end to end on the phones shipped with "
             "dnncost (make demo)."),
    "doctor": ("dnncost.cli.doctor:doctor", "Check packages, adb, attached devices, the "
               "benchmark binary and the store."),
    "evaluate": ("dnncost.cli.learn:evaluate", "Leave-devices-out accuracy (devices grouped "
                 "by phone model, or by device type), seen/unseen networks."),
    "export": ("dnncost.cli.export:export_cmd", "Write a device model as one self-describing "
               ".onnx file (or C source)."),
    "gen": ("dnncost.cli.gen:gen", "Sample networks from a search space, write them as "
            ".tflite, register them."),
    "layers": ("dnncost.cli.gen:layers", "Print the per-layer feature table (CSV) of any "
               ".tflite file or of a spec."),
    "phone": ("dnncost.cli.phone:phone", "Measure a phone's signature, adapt the population "
              "model to it, export its .onnx."),
    "predict": ("dnncost.cli.learn:predict", "Predicted latency (ms) on an adapted device: of "
                "the store's networks, or of spec strings or .tflite files (MODEL may "
                "then be a DEVICE_MODEL_DIR or an exported .onnx)."),
    "report": ("dnncost.cli.demo:report", "Evaluate the store's devices and write a static "
               "HTML report (OUT/index.html)."),
    "train": ("dnncost.cli.learn:train", "Train a cost model on every device of the store."),
}


class _Root(click.Group):
    """Loads a command's module only when that command runs, and turns every
    DnncostError into one line on stderr and exit status 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context | None, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        if name not in self.commands:
            module, attribute = COMMANDS[name][0].split(":")
            self.commands[name] = getattr(importlib.import_module(module), attribute)
        return self.commands[name]

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except click.NoSuchCommand as exc:  # suggest from every command, loaded or not
            raise click.NoSuchCommand(exc.command_name, possibilities=list(COMMANDS),
                                      ctx=ctx) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in self.list_commands(ctx)])

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DnncostError as exc:
            click.echo(f"dnncost: error: {exc}", err=True)
            sys.exit(2)
        except click.UsageError as exc:  # one line too: what is wrong, where the help is
            where = exc.ctx.command_path if exc.ctx else "dnncost"
            click.echo(f"dnncost: error: {exc.format_message()} (see `{where} --help`)",
                       err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("dnncost: interrupted; finished work is saved in the store", err=True)
            sys.exit(130)


@click.group(cls=_Root, help=_WORKFLOW)
@click.version_option(__version__, prog_name="dnncost")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or chatter.")
@click.option("-v", "--verbose", is_flag=True, help="Show tool output.")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, verbose: bool) -> None:
    from dnncost.config import config_path, default_map, load_config

    ctx.obj = {"quiet": quiet, "verbose": verbose}
    ctx.default_map = default_map(cli, load_config(config_path()))


def main() -> None:
    """Entry point of the `dnncost` console script."""
    cli(prog_name="dnncost")
