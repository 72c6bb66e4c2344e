"""JSON endpoints for sites: add and change them, check eligibility, include, review, exclude."""

from flask import Response, g, stream_with_context
from flask.views import MethodView
from flask_smorest.fields import Upload
from marshmallow import Schema, fields
from sqlalchemy.orm import selectinload

from poa_manager.api import api_blueprint, perform
from poa_manager.api.pagination import page_of
from poa_manager.database import db, utcnow
from poa_manager.programmes import services as programme_services
from poa_manager.sites import geofiles, models, schemas, services

blp = api_blueprint("sites_api", __name__, description="Sites of a programme and their inclusion")


class UploadRequest(Schema):
    """A multipart upload (kept here: flask-smorest's Upload field belongs to the web layer)."""

    file = Upload(required=True)


@blp.route("/programmes/<int:programme_id>/sites")
class ProgrammeSites(MethodView):
    @blp.arguments(schemas.SiteQueryArgs, location="query")
    @blp.response(200, schemas.SiteSchema(many=True))
    @blp.paginate()
    def get(self, args, programme_id, pagination_parameters):
        """The programme's sites you may see, filtered by status or text"""
        programme = programme_services.get_programme(programme_id, actor=g.api_user)
        query = services.list_sites(g.api_user, programme=programme, **args)
        # Each site carries its meters: one IN query per page, not one query per site.
        return page_of(query.options(selectinload(models.Site.meters)), pagination_parameters)

    @blp.arguments(schemas.CreateSiteRequest)
    @blp.response(201, schemas.SiteSchema)
    def post(self, payload, programme_id):
        """Add a draft site (CPA, VPA or instance) with its meters"""
        programme = programme_services.get_programme(programme_id, actor=g.api_user)
        site = services.create_site(programme, actor=g.api_user, **payload)
        db.session.commit()
        return site


@blp.route("/programmes/<int:programme_id>/criteria")
class Criteria(MethodView):
    @blp.arguments(schemas.CriteriaRequest)
    @blp.response(200, schemas.CriterionSchema(many=True))
    def put(self, payload, programme_id):
        """Replace the eligibility criteria of the programme's draft design"""
        programme = programme_services.get_programme(programme_id, actor=g.api_user)
        services.update_criteria(programme, actor=g.api_user, criteria=payload["criteria"])
        db.session.commit()
        return programme.latest_version.eligibility_criteria


@blp.route("/programmes/<int:programme_id>/inclusions", methods=["POST"])
@blp.arguments(schemas.IncludeSitesRequest)
@blp.response(200, schemas.SiteSchema(many=True))
def include_sites(payload, programme_id):
    """Include eligible sites, all or none; some wait for the verifier's confirmation"""
    programme = programme_services.get_programme(programme_id, actor=g.api_user)
    sites = services.include_sites(programme, actor=g.api_user, **payload)
    db.session.commit()
    return sites


@blp.route("/sites/<int:site_id>")
class Site(MethodView):
    @blp.response(200, schemas.SiteSchema)
    def get(self, site_id):
        """One site with its meters and inclusion record"""
        return services.get_site(site_id, actor=g.api_user)

    @blp.arguments(schemas.UpdateSiteRequest)
    @blp.response(200, schemas.SiteSchema)
    def patch(self, payload, site_id):
        """Change a site's facts before inclusion (a checked site must be checked again)"""
        site = services.get_site(site_id, actor=g.api_user)
        services.update_site(site, actor=g.api_user, **payload)
        db.session.commit()
        return site


@blp.route("/sites/<int:site_id>/eligibility-checks")
class EligibilityChecks(MethodView):
    @blp.response(200, schemas.EligibilityCheckSchema(many=True))
    def get(self, site_id):
        """Every eligibility check of the site, newest first, with the criteria each used"""
        site = services.get_site(site_id, actor=g.api_user)
        return services.eligibility_checks(site)

    @blp.arguments(schemas.CheckEligibilityRequest)
    @blp.response(201, schemas.EligibilityCheckSchema)
    def post(self, payload, site_id):
        """Check the site against its programme's criteria, one result per criterion"""
        site = services.get_site(site_id, actor=g.api_user)
        check = services.check_eligibility(
            site, actor=g.api_user, checked_on=payload["checked_on"] or utcnow().date()
        )
        db.session.commit()
        return check


def _site_step(site_id: int, use_case, **arguments):
    return perform(services.get_site(site_id, actor=g.api_user), use_case, **arguments)


@blp.route("/sites/<int:site_id>/confirm-inclusion", methods=["POST"])
@blp.arguments(schemas.ConfirmInclusionRequest)
@blp.response(200, schemas.SiteSchema)
def confirm_inclusion(payload, site_id):
    """Confirm a requested inclusion (the programme's verifier)"""
    return _site_step(site_id, services.confirm_inclusion, **payload)


@blp.route("/sites/<int:site_id>/return-inclusion", methods=["POST"])
@blp.arguments(schemas.SiteReasonRequest)
@blp.response(200, schemas.SiteSchema)
def return_inclusion(payload, site_id):
    """Send a requested inclusion back to the coordinator (the programme's verifier)"""
    return _site_step(site_id, services.return_inclusion, **payload)


@blp.route("/sites/<int:site_id>/review", methods=["POST"])
@blp.arguments(schemas.SiteReasonRequest)
@blp.response(200, schemas.SiteSchema)
def put_under_review(payload, site_id):
    """Put an included site under review; the programme's inclusions and issuance go on hold"""
    return _site_step(site_id, services.put_under_review, **payload)


@blp.route("/sites/<int:site_id>/clear-review", methods=["POST"])
@blp.response(200, schemas.SiteSchema)
def clear_review(site_id):
    """Clear a review that found no error; holds lift when no other site is under review"""
    return _site_step(site_id, services.clear_review, today=utcnow().date())


@blp.route("/sites/<int:site_id>/exclude", methods=["POST"])
@blp.arguments(schemas.ExcludeRequest)
@blp.response(200, schemas.SiteSchema)
def exclude_site(payload, site_id):
    """Exclude a site under review, for good: it can never be included anywhere again"""
    return _site_step(site_id, services.exclude_site, **payload)


@blp.route("/sites/<int:site_id>/renew-crediting", methods=["POST"])
@blp.response(200, schemas.SiteSchema)
def renew_crediting_period(site_id):
    """Start the site's next renewable crediting period (coordinator)"""
    return _site_step(site_id, services.renew_crediting_period, renewed_on=utcnow().date())


@blp.route("/sites/<int:site_id>/withdraw", methods=["POST"])
@blp.arguments(schemas.SiteReasonRequest)
@blp.response(200, schemas.SiteSchema)
def withdraw_site(payload, site_id):
    """Withdraw a site; its meters and equipment are free again"""
    return _site_step(site_id, services.withdraw_site, **payload)


@blp.route("/external-registrations")
class ExternalRegistrations(MethodView):
    @blp.response(200, schemas.ExternalRegistrationSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):
        """Sites registered in other registries, as the guard sees them (registry administrators)"""
        return page_of(services.list_external_registrations(g.api_user), pagination_parameters)

    @blp.arguments(UploadRequest, location="files")
    @blp.response(200, schemas.ImportCountsSchema)
    def post(self, files):
        """Import a CSV or GeoJSON list of registrations; a file with any error imports nothing"""
        upload = files["file"]
        counts = services.import_external_registrations(
            actor=g.api_user, filename=upload.filename or "upload", data=upload.read()
        )
        db.session.commit()
        return counts


class GeoExportArgs(Schema):
    format = fields.String(
        load_default=None, metadata={"description": "geojson or kml; the path's extension also chooses"}
    )


def _file_doc(description: str) -> dict:
    # GeoJSON is a JSON document (a FeatureCollection), so it is documented as one, not as bytes.
    content = {
        mimetype: {
            "schema": {"type": "object"} if kind == "geojson" else {"type": "string", "format": "binary"}
        }
        for kind, mimetype in geofiles.MIMETYPES.items()
    }
    return {"responses": {"200": {"description": description, "content": content}}}


@blp.route("/programmes/<int:programme_id>/sites.<any(geojson, kml):extension>", methods=["GET"])
@blp.arguments(GeoExportArgs, location="query")
@blp.doc(**_file_doc("The sites you may see, one GeoJSON Feature or KML Placemark each"))
def export_sites(args, programme_id, extension):
    """The programme's sites as GeoJSON or KML, with the import template's fields (docs/maps.md)"""
    programme = programme_services.get_programme(programme_id, actor=g.api_user)
    chosen = args["format"] if args["format"] in geofiles.MIMETYPES else extension
    records = services.export_records(programme, actor=g.api_user)
    chunks, mimetype = geofiles.export_file(records, chosen, programme.reference, programme.title)
    return Response(
        stream_with_context(chunks),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{programme.reference}-sites.{chosen}"'},
    )


class ImportOptions(Schema):
    check_on = fields.Date(load_default=None, metadata={"description": "Check every new site on this date"})


@blp.route("/programmes/<int:programme_id>/site-imports", methods=["POST"])
@blp.arguments(UploadRequest, location="files")
@blp.arguments(ImportOptions, location="form")
@blp.response(201, schemas.SiteImportSchema)
def import_sites(files, options, programme_id):
    """Upload a CSV, XLSX, GeoJSON, KML or KMZ of sites (the page offers a template): all rows or none

    A rejected file answers 409 with every row error in errors.rows (row, column, code, message, value).
    """
    programme = programme_services.get_programme(programme_id, actor=g.api_user)
    upload = files["file"]
    result = services.import_sites(
        programme,
        actor=g.api_user,
        filename=upload.filename or "upload",
        data=upload.read(),
        check_on=options["check_on"],
    )
    db.session.commit()
    return {
        "imported": len(result.sites),
        "checked": result.checked,
        "site_ids": [s.id for s in result.sites],
    }
