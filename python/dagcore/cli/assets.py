"""``dagcore assets list|details|materialize``, as Airflow 3's ``airflow assets``
(docs/airflow-behaviour.md 12.6).

Design note. The commands read and trigger through :mod:`dagcore.api.assets` (the REST API's
operations), so the CLI and ``/api/v2/assets`` answer alike. ``list`` and ``details`` print an
asset as Airflow 3's ``AssetResponse``: whole in ``json``/``yaml``; in ``table``/``plain`` the
references are shortened to names (``scheduled_dags`` to DAG ids, ``producing_tasks`` to
``dag_id.task_id``, ``aliases`` to names, ``last_asset_event`` to its timestamp) so that a row
stays one line. ``details`` in ``table``/``plain`` is one ``property_name``/``property_value``
row per field, as Airflow's. ``materialize`` triggers the one non-stale DAG producing the asset
(a manual run without a logical date). Each failure is one line naming the asset: no such
asset, no producing DAG, several producing DAGs (listed).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any, Final

from dagcore.cli.common import CLIError, migrated_engine

__all__ = ["add_assets_commands"]

ASSET_COLUMNS: Final = ("id", "name", "uri", "group", "extra", "created_at", "updated_at",
                        "scheduled_dags", "producing_tasks", "consuming_tasks", "aliases",
                        "last_asset_event")
ALIAS_COLUMNS: Final = ("id", "name", "group")
PROPERTY_COLUMNS: Final = ("property_name", "property_value")
RUN_COLUMNS: Final = ("dag_id", "run_id", "state", "run_type", "logical_date", "run_after",
                      "triggered_by", "triggering_user_name")
_FULL: Final = ("json", "yaml")


def _asset_row(asset: Any, output: str) -> dict[str, Any]:
    """An :class:`~dagcore.api.assets.AssetInfo` as a row (see the module note)."""
    row = asdict(asset)
    if output in _FULL:
        return row
    last = asset.last_asset_event
    return {**row,
            "scheduled_dags": [r["dag_id"] for r in asset.scheduled_dags],
            "producing_tasks": [f"{r['dag_id']}.{r['task_id']}" for r in asset.producing_tasks],
            "consuming_tasks": [f"{r['dag_id']}.{r['task_id']}" for r in asset.consuming_tasks],
            "aliases": [a.name for a in asset.aliases],
            "last_asset_event": None if last is None else last["timestamp"]}


def _cmd_assets_list(args: argparse.Namespace) -> int:
    from dagcore.api import assets as api_assets
    from dagcore.cli.output import render

    with migrated_engine() as engine:
        if args.alias:
            aliases = api_assets.list_aliases(engine, limit=None, name_pattern=args.name,
                                              order_by=["name"]).items
            render([asdict(a) for a in aliases], ALIAS_COLUMNS, args.output)
            return 0
        found = api_assets.list_assets(engine, limit=None, name_pattern=args.name,
                                       uri_pattern=args.uri, only_active=False,
                                       order_by=["name", "uri"]).items
    render([_asset_row(a, args.output) for a in found], ASSET_COLUMNS, args.output)
    return 0


def _render_one(row: dict[str, Any], columns: tuple[str, ...], output: str) -> None:
    from dagcore.cli.output import render

    if output in _FULL:
        render([row], columns, output)
    else:
        render([{"property_name": c, "property_value": row.get(c)} for c in columns],
               PROPERTY_COLUMNS, output)


def _cmd_assets_details(args: argparse.Namespace) -> int:
    from dagcore.api import assets as api_assets

    if args.alias:
        if not args.name:
            raise CLIError("Required --name with --alias", exit_code=2)
        if args.uri:
            raise CLIError("Cannot use --uri with --alias", exit_code=2)
        with migrated_engine() as engine:
            try:
                alias = api_assets.find_alias(engine, args.name)
            except api_assets.AssetAliasNotFound as exc:
                raise CLIError(str(exc)) from None
        _render_one(asdict(alias), ALIAS_COLUMNS, args.output)
        return 0
    if not args.name and not args.uri:
        raise CLIError("Either --name or --uri is required", exit_code=2)
    with migrated_engine() as engine:
        found = api_assets.find_assets(engine, name=args.name, uri=args.uri)
    what = " and ".join(([f"name {args.name}"] if args.name else [])
                        + ([f"URI {args.uri}"] if args.uri else []))
    if not found:
        raise CLIError(f"Asset with {what} does not exist.")
    if len(found) > 1:
        raise CLIError(f"More than one asset exists with {what}: give both --name and --uri "
                       f"(URIs: {', '.join(a.uri for a in found)})")
    _render_one(_asset_row(found[0], args.output), ASSET_COLUMNS, args.output)
    return 0


def _cmd_assets_materialize(args: argparse.Namespace) -> int:
    import getpass

    from dagcore.api import assets as api_assets
    from dagcore.cli.output import render

    if not args.name and not args.uri:
        raise CLIError("Either --name or --uri is required", exit_code=2)
    try:
        user: str | None = getpass.getuser()
    except (KeyError, OSError):
        user = None
    with migrated_engine() as engine:
        try:
            run = api_assets.materialize_asset(engine, name=args.name, uri=args.uri,
                                               triggered_by="cli", triggering_user_name=user)
        except (api_assets.AssetNotFound, api_assets.NoProducingDag,
                api_assets.SeveralProducingDags) as exc:
            raise CLIError(str(exc)) from None
    render([asdict(run)], RUN_COLUMNS, args.output)
    return 0


def add_assets_commands(commands: Any) -> None:
    """``dagcore assets list|details|materialize``."""
    from dagcore.cli.output import add_output_argument

    assets = commands.add_parser("assets", help="Manage assets",
                                 description="List assets and asset aliases, show one, "
                                 "materialize one (trigger the DAG that produces it).")
    sub = assets.add_subparsers(title="commands", metavar="COMMAND", dest="assets_command",
                                required=True)

    listing = sub.add_parser(
        "list", help="List assets (or aliases)",
        description="Every asset in the database (active or not), by name then URI; --name "
        "and --uri keep those whose name or URI contains the text (case-insensitive).")
    listing.add_argument("--alias", action="store_true", help="List asset aliases instead")
    listing.add_argument("--name", default=None, help="Only names containing this text")
    listing.add_argument("--uri", default=None, help="Only URIs containing this text")
    add_output_argument(listing)
    listing.set_defaults(func=_cmd_assets_list)

    details = sub.add_parser(
        "details", help="Show one asset (or alias)",
        description="The asset of this name and/or URI, with the DAGs scheduled on it, the "
        "tasks producing it, its aliases and its newest event.")
    details.add_argument("--alias", action="store_true", help="Show an asset alias (by --name)")
    details.add_argument("--name", default=None, help="The asset's (or alias') name")
    details.add_argument("--uri", default=None, help="The asset's URI")
    add_output_argument(details)
    details.set_defaults(func=_cmd_assets_details)

    materialize = sub.add_parser(
        "materialize", help="Trigger the DAG that produces an asset",
        description="Create a queued manual run (no logical date) of the one DAG whose task "
        "produces the asset of this name and/or URI.")
    materialize.add_argument("--name", default=None, help="The asset's name")
    materialize.add_argument("--uri", default=None, help="The asset's URI")
    add_output_argument(materialize)
    materialize.set_defaults(func=_cmd_assets_materialize)
