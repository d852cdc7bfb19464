"""The `dnncost` command: a thin layer that parses options, calls one function, writes.

Each stage's commands live in their own module here and import their stage lazily,
so `dnncost --help` stays fast.
"""

from __future__ import annotations

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
Data: dnncost data import-iiswc | import-csv | export | info | merge
Help: dnncost doctor (checks the set-up), dnncost report (HTML report)
"""


class _Root(click.Group):
    """Turns every DnncostError into one line on stderr and exit status 2."""

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


def _register() -> None:
    from dnncost.cli.data import data

    cli.add_command(data)
    for module_name in ("gen", "bench", "learn", "export", "phone", "demo", "doctor"):
        try:
            module = __import__(f"dnncost.cli.{module_name}", fromlist=["COMMANDS"])
        except ModuleNotFoundError as exc:
            if exc.name != f"dnncost.cli.{module_name}":
                raise
            continue
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    """Entry point of the `dnncost` console script."""
    cli(prog_name="dnncost")
