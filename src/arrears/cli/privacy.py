"""`arrears privacy ...`: keys, search, reveal, holds, consents, agreements, erasure, retention, exports."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated

import typer

from arrears import bootstrap
from arrears.cli.common import console, handle_errors, print_json
from arrears.cli.users import ActAs, JsonFlag, actor, unit_of_work
from arrears.errors import ConfigurationError, ValidationError
from arrears.privacy import service
from arrears.privacy.crypto import KeyRing
from arrears.privacy.retention import load_policy, run_retention
from arrears.store.db import UnitOfWork, utcnow

__all__ = ["app"]

app = typer.Typer(help="Personal data: keys, search, erasure, retention, sharing.", no_args_is_help=True)


def _date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            f"{option}: {value!r} is not a date in the form YYYY-MM-DD", field=option
        ) from None


def _write_secret(path: Path, text: str) -> None:
    # Created 0600 from the start: the key must never be readable by others, even for a moment.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as fh:
        fh.write(text)


@app.command("keygen")
@handle_errors
def keygen_command(
    file: Annotated[Path, typer.Argument(help="Key file to create (mode 0600)")],
    key_id: Annotated[str, typer.Option("--key-id", help="Id of the new key")] = "k1",
    add: Annotated[bool, typer.Option("--add", help="Add a new active key to an existing file")] = False,
) -> None:
    """Create a field-encryption key file, or --add a new active key to one before `rotate-keys`."""
    if add:
        ring = KeyRing.from_file(file).with_new_active_key(key_id)
    else:
        if file.exists():
            raise ConfigurationError(f"{file} exists; use --add to add a key to it", source=str(file))
        ring = KeyRing.generate(key_id)
    _write_secret(file, ring.to_json())
    console.print(f"key file {file}: keys {', '.join(ring.key_ids)}, active {ring.active_key_id}. "
                  "Set ARREARS_FIELD_KEYS_FILE to it; keep a backup offline.")  # fmt: skip


@app.command("rotate-keys")
@handle_errors
def rotate_keys_command(
    batch_rows: Annotated[int, typer.Option("--batch-rows", min=1)] = 5000,
    as_user: ActAs = None,
    as_json: JsonFlag = False,
) -> None:
    """Re-encrypt every sealed field under the active key, a committed batch at a time (resumable)."""
    ring = bootstrap.key_ring()
    if ring is None:
        raise ConfigurationError(
            "no key file configured: set ARREARS_FIELD_KEYS_FILE", setting="field_keys_file"
        )
    with bootstrap.open_engine() as engine:
        while True:
            with UnitOfWork(engine) as uow:
                progress = service.rotate_keys_batch(uow.session, actor=actor(as_user), ring=ring, now=utcnow(),
                                                     batch_rows=batch_rows)  # fmt: skip
                uow.commit()
            if progress["done"]:
                break
    total = int(progress["total"])
    if as_json:
        print_json({"key_id": ring.active_key_id, "rows_rotated": total, "run": progress["run"]})
    else:
        console.print(f"{total} fields now under key {ring.active_key_id}")


@app.command("find")
@handle_errors
def find_command(
    phone: Annotated[str | None, typer.Option("--phone")] = None,
    national_id: Annotated[str | None, typer.Option("--national-id")] = None,
    as_user: ActAs = None,
    as_json: JsonFlag = False,
) -> None:
    """Debtors with this exact phone number or ID number (among those you may see)."""
    with unit_of_work() as uow:
        found = service.find_debtors(uow.session, actor=actor(as_user), phone=phone, national_id=national_id)
    if as_json:
        print_json({"debtors": found})
    else:
        console.print("\n".join(found) or "no debtor found")


@app.command("hold")
@handle_errors
def hold_command(
    debtor_id: str, reason: Annotated[str, typer.Option("--reason")], as_user: ActAs = None
) -> None:
    """Place a legal hold: the debtor's data is kept from erasure until it is released."""
    with unit_of_work() as uow:
        hold = service.place_legal_hold(uow.session, actor=actor(as_user), debtor_id=debtor_id, reason=reason,
                                        now=utcnow())  # fmt: skip
        uow.commit()
    console.print(f"legal hold {hold} placed on {debtor_id}")


@app.command("release-hold")
@handle_errors
def release_hold_command(hold_id: int, as_user: ActAs = None) -> None:
    """Release a legal hold."""
    with unit_of_work() as uow:
        service.release_legal_hold(uow.session, actor=actor(as_user), hold_id=hold_id, now=utcnow())
        uow.commit()
    console.print(f"legal hold {hold_id} released")


@app.command("consent")
@handle_errors
def consent_command(
    debtor_id: str,
    purpose: Annotated[str, typer.Option("--purpose", help="placement or sale")],
    evidence: Annotated[str, typer.Option("--evidence", help="Where the signed consent is kept")],
    counterparty: Annotated[str | None, typer.Option("--counterparty")] = None,
    as_user: ActAs = None,
) -> None:
    """Record a debtor's separate consent to sharing (PIPL art. 23)."""
    if purpose not in ("placement", "sale"):
        raise ValidationError("--purpose is placement or sale", field="purpose")
    with unit_of_work() as uow:
        consent = service.record_consent(uow.session, actor=actor(as_user), debtor_id=debtor_id, purpose=purpose,
                                         evidence=evidence, now=utcnow(), counterparty=counterparty)  # fmt: skip
        uow.commit()
    console.print(f"consent {consent} recorded for {debtor_id}")


@app.command("agreement")
@handle_errors
def agreement_command(
    counterparty: str,
    kind: Annotated[
        str, typer.Option("--kind", help="entrusted_processing, provision, processor_contract, data_sharing")
    ],
    jurisdiction: Annotated[str, typer.Option("--jurisdiction")],
    reference: Annotated[str, typer.Option("--reference", help="The signed document's reference")],
    signed_on: Annotated[str, typer.Option("--signed-on")],
    expires_on: Annotated[str | None, typer.Option("--expires-on")] = None,
    as_user: ActAs = None,
) -> None:
    """Record a written data agreement with a counterparty (agency, buyer)."""
    with unit_of_work() as uow:
        row = service.add_agreement(
            uow.session, actor=actor(as_user), counterparty=counterparty, kind=kind, jurisdiction=jurisdiction,
            reference=reference, signed_on=_date(signed_on, "signed_on"), now=utcnow(),
            expires_on=_date(expires_on, "expires_on") if expires_on else None,
        )  # fmt: skip
        uow.commit()
    console.print(f"agreement {row} with {counterparty} recorded")


@app.command("erase")
@handle_errors
def erase_command(
    debtor_id: str,
    reason: Annotated[str, typer.Option("--reason", help="The erasure request's reference")],
    as_user: ActAs = None,
) -> None:
    """Erase a debtor's personal data on a valid request (refused while held or owing; exit 5)."""
    with unit_of_work() as uow:
        service.erase_debtor(
            uow.session, actor=actor(as_user), debtor_id=debtor_id, reason=reason, now=utcnow()
        )
        uow.commit()
    console.print(f"personal data of {debtor_id} erased; balances and the audit log are unchanged")


@app.command("retention-run")
@handle_errors
def retention_run_command(
    as_of: Annotated[str, typer.Option("--as-of", help="The day to apply retention on (YYYY-MM-DD)")],
    as_user: ActAs = None,
    as_json: JsonFlag = False,
) -> None:
    """Anonymise personal data past retention by the policy file."""
    day = _date(as_of, "as_of")
    policy = load_policy(bootstrap.settings().retention_policy_file)
    with unit_of_work() as uow:
        report = run_retention(uow.session, actor=actor(as_user), as_of=day, now=utcnow(), policy=policy)
        uow.commit()
    if as_json:
        print_json({"as_of": day, "anonymised": report.anonymised, "kept": report.kept})
        return
    console.print(f"retention on {day}: {len(report.anonymised)} debtors anonymised, {len(report.kept)} kept")
    for debtor, why in report.kept.items():
        console.print(f"  kept {debtor}: {why}")


@app.command("export")
@handle_errors
def export_command(
    to: Annotated[str, typer.Option("--to", help="The counterparty")],
    accounts: Annotated[Path, typer.Option("--accounts", help="File with one account_id per line")],
    purpose: Annotated[str, typer.Option("--purpose", help="placement or sale")] = "placement",
    sealed: Annotated[
        bool, typer.Option("--sealed", help="Encrypt personal fields instead of masking")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Export file (default <accounts>.<to>.csv)")
    ] = None,
    as_user: ActAs = None,
    as_json: JsonFlag = False,
) -> None:
    """Export accounts for a counterparty: refused unless the agreement and consents are in place."""
    if purpose not in ("placement", "sale"):
        raise ValidationError("--purpose is placement or sale", field="purpose")
    try:
        ids = [line.split(",")[0].strip() for line in accounts.read_text(encoding="utf-8").splitlines()]
    except OSError as exc:
        raise ValidationError(f"cannot read {accounts}: {exc.strerror}", field="accounts") from None
    ids = [i for i in ids if i and i != "account_id"]
    target = out or accounts.with_name(f"{accounts.name}.{to}.csv")
    with unit_of_work() as uow:
        result = service.export_accounts(uow.session, actor=actor(as_user), counterparty=to, purpose=purpose,
                                         account_ids=ids, now=utcnow(), sealed=sealed)  # fmt: skip
        target.write_text(result.csv_text, encoding="utf-8")
        key_file = None
        if result.key_json is not None:
            key_file = target.with_name(target.name + ".key.json")
            _write_secret(key_file, result.key_json)
        uow.commit()
    if as_json:
        print_json(
            {"file": str(target), "key_file": str(key_file) if key_file else None, "rows": result.rows}
        )
    else:
        console.print(f"{result.rows} accounts exported to {target}")
        if key_file:
            console.print(f"key to open the sealed fields: {key_file} (send it by another channel)")
