"""``qingling registry …``: facility import and export from the command line.

Whoever runs these holds the server, so the commands act as the system (audit actor
``system``) over every division. The import prints a line per refused row and exits with
status 1 when any row was refused (the good rows are saved all the same, unless ``--dry-run``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from core.audit.services import SYSTEM_ACTOR
from core.cli import Context, pass_context
from core.clock import SystemClock

_ENCODINGS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "gb18030": "GBK/GB 18030",
    "utf-16": "UTF-16",
}


@click.group("registry")
def registry_group() -> None:
    """The facility registry: import and export spreadsheets."""


@registry_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--division-default",
    default=None,
    help="Division (name or id) for rows that name none.",
)
@click.option("--dry-run", is_flag=True, help="Check and report, save nothing.")
@pass_context
def import_command(ctx: Context, file: Path, division_default: str | None, dry_run: bool) -> None:
    """Import facilities from FILE: CSV (UTF-8, with or without BOM, or GBK as Excel writes
    it) or Excel .xlsx. Rows match existing facilities by credit code, else by name and
    division; empty cells never erase. Importing the same file again changes nothing."""
    from registry import tables
    from registry.services.imports import describe, import_facilities

    if file.stat().st_size > tables.MAX_BYTES:
        raise click.ClickException(
            f"{file.name} is larger than {tables.MAX_BYTES // (1024 * 1024)} MiB; split it"
        )
    data = file.read_bytes()
    default: int | str | None = division_default
    if division_default is not None and division_default.strip().isdigit():
        default = int(division_default.strip())
    with ctx.unit_of_work() as session:
        report = import_facilities(
            session,
            SystemClock(),
            SYSTEM_ACTOR,
            data,
            filename=file.name,
            default_division=default,
        )
        if dry_run:
            session.rollback()
    how = report.format.upper()
    if report.encoding:
        how += f", {_ENCODINGS.get(report.encoding, report.encoding)}"
    click.echo(f"{file.name} ({how}): header in row {report.header_row}, {report.rows} rows")
    if report.ignored_columns:
        click.echo("columns ignored: " + ", ".join(report.ignored_columns))
    click.echo(
        f"created {report.created}, updated {report.updated}, unchanged {report.unchanged}, "
        f"refused {len(report.rejected)}" + (" (dry run: nothing saved)" if dry_run else "")
    )
    for rejected in report.rejected:
        label = f"row {rejected.row}" + (f" ({rejected.name})" if rejected.name else "")
        click.echo(f"{label}: " + "; ".join(describe(p) for p in rejected.problems), err=True)
    if report.rejected:
        sys.exit(1)


@registry_group.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx"]),
    default="csv",
    show_default=True,
    help="CSV (UTF-8 with BOM, opens in Excel) or Excel workbook.",
)
@click.option("--division", default=None, help="Only this division (name or id).")
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@pass_context
def export_command(ctx: Context, fmt: str, division: str | None, out: Path) -> None:
    """Export every facility to OUT (columns headed in Chinese, as the import reads them)."""
    from registry.fields import FieldError
    from registry.services.editing import resolve_division
    from registry.services.exports import export_facilities
    from registry.services.facilities import FacilityFilters

    with ctx.unit_of_work() as session:
        filters = FacilityFilters()
        if division:
            raw: int | str = int(division) if division.strip().isdigit() else division
            try:
                filters = FacilityFilters(division_id=resolve_division(session, raw))
            except FieldError as exc:
                raise click.BadParameter(exc.message, param_hint="--division") from None
        exported = export_facilities(session, SystemClock(), SYSTEM_ACTOR, fmt, filters)
        out.write_bytes(exported.data)
    noun = "facility" if exported.count == 1 else "facilities"
    click.echo(f"exported {exported.count} {noun} to {out}")


COMMANDS: list[click.Command] = [registry_group]
