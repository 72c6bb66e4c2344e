"""What the HTML views share: showing a refused use case to the person who asked for it, and
exporting a list page as CSV or XLSX."""

from itertools import chain
from operator import attrgetter

import sqlalchemy as sa
from flask import Response, flash, request, stream_with_context
from flask_login import current_user

from poa_manager import tabular
from poa_manager.database import db
from poa_manager.errors import DomainError, InvalidInput, RuleViolation


def describe(error: DomainError) -> str:
    """The refusal and every per-field message, in one line for a flash."""
    details = "; ".join(f"{key}: {' '.join(map(str, value))}" for key, value in error.errors.items())
    return f"{error.message} {details}".strip()


def place_errors(form, error: DomainError) -> None:
    """Put a service's per-field messages next to the form's fields; flash the refusal and the rest."""
    unplaced = []
    for name, messages in error.errors.items():
        field = getattr(form, name, None)
        if field is None or not hasattr(field, "errors"):
            unplaced.append(f"{name}: {' '.join(map(str, messages))}")
        else:
            field.errors = list(field.errors) + list(messages)
    flash(" ".join([error.message, *unplaced]), "error")


def perform(subject, use_case, success: str, **arguments) -> bool:
    """Run one use case on `subject` as the current user and commit it, or roll back and say why.

    `success` may name the subject: "{subject.reference} included." Returns whether it went through.
    """
    try:
        use_case(subject, actor=current_user, **arguments)
    except (InvalidInput, RuleViolation) as error:
        db.session.rollback()
        flash(describe(error), "error")
        return False
    db.session.commit()
    flash(success.format(subject=subject), "success")
    return True


# --- exports of list pages ------------------------------------------------------------------------

EXPORT_FORMATS = ("csv", "xlsx")
_EXPORT_BATCH = 500


def export_format() -> str | None:
    """The export a list page was asked for (`?export=csv` or `?export=xlsx`), or None for the page."""
    fmt = request.args.get("export")
    return fmt if fmt in EXPORT_FORMATS else None


def export_response(rows, columns, filename: str, fmt: str) -> Response:
    """Every row of a list page's filtered, scoped query as a CSV or XLSX download.

    `rows` is the page's own select (so the export holds exactly the page's rows, all pages of them)
    or any iterable; `columns` pairs a header with an attribute name or a function of the row.
    Selects are read in batches (`yield_per`); CSV streams line by line, XLSX is built in
    openpyxl's write-only mode. Text is neutralised by `poa_manager.tabular`.
    """
    header = [name for name, _ in columns]
    getters = [attrgetter(get) if isinstance(get, str) else get for _, get in columns]

    def table():
        # Runs the select when the first row is wanted: for a streamed CSV that is after the view
        # returned, when Flask has torn down the view's session and stream_with_context has pushed
        # the contexts again (with a fresh session) around the generator.
        if isinstance(rows, sa.Select):
            plain = _plain_columns(rows, columns)
            if plain is not None:  # named rows, no ORM objects: several times faster at 100,000
                source = db.session.execute(plain.execution_options(yield_per=_EXPORT_BATCH))
            else:
                source = db.session.scalars(rows.execution_options(yield_per=_EXPORT_BATCH))
        else:
            source = rows
        for row in source:
            yield [get(row) for get in getters]

    name = f"{filename}.{fmt}"
    if fmt == "csv":
        # A BOM so Excel reads UTF-8; then one line per row. A select streams; rows already loaded
        # are written now, while the session that loaded them (and their relationships) is open.
        lines = chain(["\ufeff"], _chunks(tabular.csv_lines(header, table())))
        body = stream_with_context(lines) if isinstance(rows, sa.Select) else "".join(lines)
        return Response(
            body,
            mimetype=tabular.CSV_MIMETYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    # The rows stream through openpyxl's own temporary file; only the zipped workbook is held here.
    return Response(
        tabular.xlsx_bytes(header, table(), title=filename),
        mimetype=tabular.XLSX_MIMETYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _plain_columns(query: sa.Select, columns) -> sa.Select | None:
    """The select narrowed to the exported columns, when every column is a plain column attribute of
    the one entity it selects; None when some column needs the ORM object (a relationship, a
    Python property, a function)."""
    descriptions = query.column_descriptions
    entity = descriptions[0].get("entity") if len(descriptions) == 1 else None
    if entity is None or not all(isinstance(get, str) for _, get in columns):
        return None
    attributes = sa.inspect(entity).column_attrs
    if not all(get in attributes for _, get in columns):
        return None
    return query.with_only_columns(*(getattr(entity, get) for _, get in columns), maintain_column_froms=True)


def _chunks(lines, size: int = 200):
    """Lines joined into chunks: one WSGI write per line would cost more than writing the line."""
    batch = []
    for line in lines:
        batch.append(line)
        if len(batch) == size:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)
