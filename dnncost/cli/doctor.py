"""`dnncost doctor`."""

from __future__ import annotations

import sys

import click

from dnncost.cli.common import store_option


@click.command()
@click.option("--adb", "adb_servers", multiple=True, metavar="HOST:PORT",
              help="adb server(s) to check (default 127.0.0.1:5037).")
@store_option
def doctor(adb_servers: tuple[str, ...], store_path: str) -> None:
    """Check packages, adb, attached devices, the benchmark binary and the store.

    Exits 1 when something needs fixing; each problem line says what to do.

    Example: dnncost doctor --adb 192.168.1.5:5037
    """
    from dnncost.doctor import run_checks

    checks = run_checks(store_path, list(adb_servers))
    for check in checks:
        click.echo(f"[{'ok' if check.ok else '!!'}] {check.name}: {check.detail}")
    problems = sum(not c.ok for c in checks)
    click.echo(f"{problems} problem(s)" if problems else "all good")
    sys.exit(1 if problems else 0)


COMMANDS = [doctor]
