"""``arrears audit``: check, prove, sign and read the tamper-evident audit log.

``verify`` exits 0 with a summary when the log is intact and 1 naming the first bad index when it is
not; bad input exits 2 with a one-line message.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich import box
from rich.table import Table
from sqlalchemy import Engine

from arrears import bootstrap
from arrears.audit.service import (
    export_tree_heads,
    issue_checkpoint,
    list_events,
    list_tree_heads,
    parse_tree_heads,
    prove_event,
)
from arrears.audit.tree_head import (
    DEFAULT_SIGNING_KEY_ENV,
    KEY_FILE_ENV,
    export_public_key,
    generate_signing_key,
    key_id,
    load_configured_signing_key,
    load_public_key,
    private_key_to_pem,
)
from arrears.audit.verify import verify_log
from arrears.cli.common import console, err_console, handle_errors, print_json
from arrears.errors import ConfigurationError, ValidationError
from arrears.store.db import UnitOfWork, utcnow

__all__ = ["app"]

app = typer.Typer(help="The audit log: verify, prove, checkpoint, export, show.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
PublicKeyOption = Annotated[
    list[Path] | None,
    typer.Option("--public-key", help="A trusted tree-head public key (PEM); repeat after a key rotation."),
]


@contextmanager
def _engine() -> Iterator[Engine]:
    """The configured engine, disposed of when the command is done."""
    engine = bootstrap.engine()
    try:
        yield engine
    finally:
        engine.dispose()


def _key_file_setting() -> str | None:
    value = getattr(bootstrap.settings(), "audit_signing_key_file", None)
    return None if value is None else str(value)


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read {what} {path}: {exc}", field=what, path=str(path)) from None


def _trusted_keys(paths: list[Path] | None) -> list[Ed25519PublicKey] | None:
    """The keys given on the command line, else the configured signing key's, else none (untrusted)."""
    if paths:
        return [load_public_key(_read_text(path, "public key")) for path in paths]
    configured = (
        os.environ.get(DEFAULT_SIGNING_KEY_ENV) or os.environ.get(KEY_FILE_ENV) or _key_file_setting()
    )
    if configured:
        return [load_configured_signing_key(key_file=_key_file_setting()).public_key()]
    return None


def _event_id(value: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ValidationError(
            f"EVENT_ID: {value!r} is not an event id", field="EVENT_ID", value=value
        ) from None
    if number < 1:
        raise ValidationError(f"EVENT_ID: {value!r} is not an event id", field="EVENT_ID", value=value)
    return number


@app.command("verify")
@handle_errors
def verify_command(
    public_key: PublicKeyOption = None,
    heads: Annotated[
        Path | None, typer.Option("--heads", help="Tree heads kept outside (from export-heads) to check too.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Recompute every leaf and every tree head; exit 1 naming the first bad index if anything differs."""
    external = parse_tree_heads(_read_text(heads, "heads file")) if heads is not None else []
    keys = _trusted_keys(public_key)
    with _engine() as engine, engine.connect() as conn:
        report = verify_log(conn, trusted_keys=keys, external_heads=external)
    if as_json:
        print_json(report.to_dict())
    elif report.is_intact:
        trust = "trusted key" if report.are_keys_trusted else "keys stored with the heads (pass --public-key)"
        console.print(
            f"audit log intact: {report.events} events, root {report.root_hash.hex()}, "
            f"{report.heads_checked} tree heads and {report.external_heads_checked} kept heads verified "
            f"against {trust}",
            highlight=False,
            soft_wrap=True,
        )
    else:
        err_console.print(
            f"[bold red]audit log tampered[/]: first bad index {report.first_bad_index}", highlight=False
        )
        for problem in report.problems:
            err_console.print(f"  {problem.kind}: {problem.message}", highlight=False, soft_wrap=True)
    if not report.is_intact:
        raise typer.Exit(1)


@app.command("prove")
@handle_errors
def prove_command(
    event_id: Annotated[str, typer.Argument(metavar="EVENT_ID", help="The event's id (see `show`).")],
    public_key: PublicKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the inclusion proof of one event against the latest signed tree head, and check it."""
    number = _event_id(event_id)
    keys = _trusted_keys(public_key)
    with _engine() as engine, engine.connect() as conn:
        proof = prove_event(
            conn, event_id=number, trusted_keys=None if keys is None else {key_id(k): k for k in keys}
        )
    if as_json:
        print_json(proof.to_dict())
    else:
        head = proof.tree_head.head
        console.print(
            f"event {proof.event_id} is leaf {proof.index} of the tree head of size {head.tree_size} "
            f"signed {head.timestamp.isoformat()} (root {head.root_hash.hex()})",
            highlight=False,
            soft_wrap=True,
        )
        for level, node in enumerate(proof.proof):
            console.print(f"  {level:2d}  {node.hex()}", highlight=False)
        verdict = "verified" if proof.is_verified and proof.is_signature_valid else "DOES NOT VERIFY"
        console.print(f"inclusion proof {verdict}", highlight=False)
    if not (proof.is_verified and proof.is_signature_valid):
        raise typer.Exit(1)


@app.command("checkpoint")
@handle_errors
def checkpoint_command(as_json: JsonOption = False) -> None:
    """Sign and store a tree head over the log as it stands now."""
    key = load_configured_signing_key(key_file=_key_file_setting())
    actor = bootstrap.settings().actor
    with _engine() as engine, UnitOfWork(engine) as uow:
        stored = issue_checkpoint(uow.session, at=utcnow(), key=key, actor=actor)
        uow.commit()
    document = stored.head.to_document()
    document["id"] = stored.id
    if as_json:
        print_json(document)
    else:
        console.print(
            f"tree head {stored.id}: {stored.tree_size} events, root {document['root_hash']}, "
            f"signed {document['timestamp']} by key {stored.head.key_id[:16]}…",
            highlight=False,
            soft_wrap=True,
        )


@app.command("export-heads")
@handle_errors
def export_heads_command(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Where to write the tree heads (JSON).")],
    as_json: JsonOption = False,
) -> None:
    """Write every signed tree head, with its public key, for an outside party to keep."""
    with _engine() as engine, engine.connect() as conn:
        document = export_tree_heads(conn)
        count = len(list_tree_heads(conn))
    try:
        file.write_text(document, encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"cannot write {file}: {exc.strerror}", field="FILE", path=str(file)) from None
    if as_json:
        print_json({"file": str(file), "heads": count})
    else:
        console.print(f"wrote {count} tree heads to {file}", highlight=False)


@app.command("keygen")
@handle_errors
def keygen_command(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="Where to write the private key (PEM, mode 0600).")
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Make an Ed25519 tree-head signing key; its public half goes to FILE.pub."""
    public_file = file.with_name(file.name + ".pub")
    if not force and (file.exists() or public_file.exists()):
        raise ValidationError(
            f"{file} already exists; pass --force to replace it", field="FILE", path=str(file)
        )
    key = generate_signing_key()
    try:
        descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(private_key_to_pem(key))
        os.chmod(file, 0o600)
        public_file.write_bytes(export_public_key(key))
    except OSError as exc:
        raise ConfigurationError(f"cannot write {file}: {exc.strerror}", source=str(file)) from None
    result = {"key_file": str(file), "public_key_file": str(public_file), "key_id": key_id(key.public_key())}
    if as_json:
        print_json(result)
    else:
        console.print(
            f"wrote {file} (keep it secret) and {public_file}; key id {result['key_id']}. "
            f"Set {DEFAULT_SIGNING_KEY_ENV}=@{file} or {KEY_FILE_ENV}={file}.",
            highlight=False,
            soft_wrap=True,
        )


@app.command("show")
@handle_errors
def show_command(
    subject: Annotated[
        str | None, typer.Option("--subject", help="TYPE or TYPE:ID, e.g. account:A-1.")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Only this actor's events.")] = None,
    action: Annotated[str | None, typer.Option("--action", help="Only this action.")] = None,
    limit: Annotated[str, typer.Option("--limit", help="How many events, newest first.")] = "50",
    as_json: JsonOption = False,
) -> None:
    """List events, newest first, as their hashed entries state them."""
    try:
        count = int(limit)
    except ValueError:
        raise ValidationError(
            f"--limit: {limit!r} is not a whole number", field="--limit", value=limit
        ) from None
    with _engine() as engine, engine.connect() as conn:
        events = list_events(conn, subject=subject, actor=actor, action=action, limit=count)
    if as_json:
        print_json([event.to_dict() for event in events])
        return
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("id", "index", "at", "actor", "action", "subject", "change"):
        table.add_column(column)
    for event in events:
        body: dict[str, Any] = event.event
        change = {k: body[k] for k in ("before", "after", "details") if body.get(k)}
        table.add_row(
            str(event.id),
            str(event.index),
            body["at"],
            body["actor"],
            body["action"],
            body["subject"],
            str(change) if change else "",
        )
    console.print(table)
