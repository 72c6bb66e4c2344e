"""JSON shapes of the dashboards feature: the PUT body of the targets, and plain-JSON renderings of
the dashboard and cycle-time summaries (nested read-only views, built from the services' results)."""

from datetime import UTC, datetime

from marshmallow import Schema, fields, validate

from poa_manager.dashboards import cycles
from poa_manager.dashboards.services.cycles import MAX_TARGET_DAYS


class TargetsSchema(Schema):
    """{"targets": {"statement": 45, ...}}: only the steps named change."""

    targets = fields.Dict(
        keys=fields.String(validate=validate.OneOf(cycles.STEP_KEYS)),
        values=fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_TARGET_DAYS)),
        required=True,
    )


def _day(value) -> str | None:
    return cycles.as_date(value).isoformat() if value else None


def _instant(epoch: int | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).isoformat() if epoch is not None else None


def target_json(target) -> dict:
    return {
        "step": target.step.key,
        "label": target.step.label,
        "target_days": target.target_days,
        "default_days": target.step.default_target_days,
        "is_default": target.is_default,
        "updated_at": target.updated_at.isoformat() if target.updated_at else None,
    }


def request_cycle_json(row) -> dict:
    return {
        "request_id": row.request_id,
        "label": row.label,
        "status": row.status.value,
        "programme_id": row.programme_id,
        "programme": row.programme_reference,
        "milestones": {name: _day(value) for name, value in row.milestones.items()},
        "current_step": row.cycle.current_step,
        "finished": row.cycle.finished,
        "overdue_days": row.cycle.overdue_days,
        "steps": {
            step.key: {
                "days": step.days,
                "finished": step.finished,
                "target_days": step.target_days,
                "overdue_days": step.overdue_days,
            }
            for step in row.cycle.steps
        },
    }


def summary_json(summary, *, requests: list | None = None) -> dict:
    return {
        "request_count": len(summary.requests),
        "median_total_days": summary.median_total_days,
        "targets": summary.targets,
        "targets_note": "[U] defaults unless a platform administrator changed them",
        "steps": [
            {
                "step": s.step.key,
                "label": s.step.label,
                "target_days": s.target_days,
                "median_days": s.median_days,
                "finished": s.finished,
                "in_progress": s.in_progress,
                "overdue": s.overdue,
            }
            for s in summary.steps
        ],
        "programmes": [
            {
                "programme_id": p.programme_id,
                "programme": p.reference,
                "requests": p.requests,
                "finished": p.finished,
                "median_total_days": p.median_total_days,
                "overdue": p.overdue,
            }
            for p in summary.programmes
        ],
        "slowest": [request_cycle_json(r) for r in summary.slowest],
        "overdue": [request_cycle_json(r) for r in summary.overdue],
        "distribution": [
            {"from_days": low, "to_days": high, "count": n} for low, high, n in summary.distribution
        ],
        "requests": [request_cycle_json(r) for r in (summary.requests if requests is None else requests)],
    }


def reference_json(reference) -> dict:
    row = reference.cycle
    return {
        "reference": row.reference,
        "title": row.title,
        "mechanism": row.mechanism,
        "host_country": row.host_country,
        "monitoring_end": row.monitoring_end.isoformat(),
        "notified_on": row.notified_on.isoformat(),
        "days": reference.days,
        "months": reference.months,
        "duration": reference.duration,
        "credits": row.credits,
        "batch": row.batch,
        "source": row.source,
        "confidence": row.confidence,
    }


def batch_json(batch) -> dict:
    return {
        "name": batch.name,
        "host_country": batch.host_country,
        "notified_on": batch.notified_on.isoformat(),
        "project_count": batch.project_count,
        "credits": batch.credits,
        "source": batch.source,
        "confidence": batch.confidence,
    }


def _listing(listing, render) -> dict:
    return {"total": listing.total, "first": [render(row) for row in listing.rows]}


def _site(site) -> dict:
    return {"id": site.id, "reference": site.reference, "name": site.name, "status": site.status.value}


def _programme(programme) -> dict:
    return {"id": programme.id, "reference": programme.reference, "title": programme.title}


def _request(r) -> dict:
    return {"id": r.id, "label": r.label, "programme_id": r.programme_id, "status": r.status.value}


def dashboard_json(page) -> dict:
    """The same sections as the landing page, each present only for a role the user holds."""
    body: dict = {"today": page.today.isoformat(), "sections": page.sections, "targets": page.targets}
    if page.coordinator:
        c = page.coordinator
        body["coordinator"] = {
            "programmes": _listing(c.programmes, _programme),
            "sites_waiting": c.waiting_sites,
            "sites_waiting_first": _listing(c.waiting_first, _site),
            "missing_readings": _listing(
                c.missing_readings, lambda row: {**_site(row[0]), "last_reading_end": _instant(row[1])}
            ),
            "stale_days": c.stale_days,
            "periods_to_close": _listing(
                c.periods_to_close,
                lambda r: {
                    "id": r.id,
                    "label": r.label,
                    "programme_id": r.programme_id,
                    "period_end": _day(r.period_end),
                },
            ),
            "requests_waiting": _listing(c.requests_waiting, _request),
            "overdue": [request_cycle_json(r) for r in c.overdue],
        }
    if page.operator:
        o = page.operator
        body["site_operator"] = {
            "sites": _listing(
                o.sites,
                lambda row: {
                    **_site(row.site),
                    "meters": [
                        {"id": m.id, "serial": m.serial, "last_reading_end": _instant(last)}
                        for m, last in row.meters
                    ],
                },
            ),
            "rejected_uploads": _listing(
                o.rejected_uploads,
                lambda u: {
                    "id": u.id,
                    "filename": u.filename,
                    "status": u.status.value,
                    "error_count": u.error_count,
                },
            ),
            "calibrations_due": _listing(
                o.calibrations_due,
                lambda m: {
                    "id": m.id,
                    "serial": m.serial,
                    "site_id": m.site_id,
                    "valid_until": _day(m.calibration_valid_until),
                },
            ),
        }
    if page.verifier:
        body["verifier"] = _listing(
            page.verifier,
            lambda a: {
                "verification_id": a.verification.id,
                "label": a.verification.label,
                "request_id": a.verification.request_id,
                "programme_id": a.verification.programme_id,
                "assigned_at": _day(a.verification.assigned_at),
                "due_on": a.due_on.isoformat(),
                "overdue_days": a.overdue_days,
                "frame_size": a.frame_size,
                "drawn": a.drawn,
                "findings": a.findings,
                "state": a.state,
            },
        )
    if page.registry:
        r = page.registry
        body["registry_administrator"] = {
            "issuance_waiting": _listing(r.issuance_waiting, _request),
            "transactions_waiting": _listing(
                r.transactions_waiting, lambda t: {"id": t.id, "kind": t.kind.value, "quantity": t.quantity}
            ),
            "holds": _listing(
                r.holds,
                lambda p: {
                    **_programme(p),
                    "inclusion_hold": p.inclusion_hold,
                    "issuance_hold": p.issuance_hold,
                },
            ),
            "freezes": _listing(
                r.freezes,
                lambda f: {
                    "id": f.id,
                    "programme_id": f.programme_id,
                    "vintage": f.vintage,
                    "reason": f.reason,
                },
            ),
            "overdue": [request_cycle_json(x) for x in r.overdue],
        }
    if page.government:
        g = page.government
        body["host_government"] = {
            "country": g.country,
            "authorizations": _listing(
                g.authorizations,
                lambda a: {
                    "id": a.id,
                    "reference": a.reference,
                    "programme_id": a.programme_id,
                    "authorized_on": _day(a.authorized_on),
                },
            ),
            "by_vintage": g.by_vintage,
        }
    if page.admin:
        a = page.admin
        body["platform_admin"] = {
            "organisation_count": a.organisation_count,
            "user_count": a.user_count,
            "locked_users": [u.email for u in a.locked_users],
        }
    return body
