"""What the HTML views share: showing a refused use case to the person who asked for it."""

from flask import flash
from flask_login import current_user

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
