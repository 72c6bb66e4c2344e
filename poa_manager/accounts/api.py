"""JSON endpoints: who am I, personal tokens, organisations, users and the audit log."""

from flask import g, url_for
from flask.views import MethodView

from poa_manager.accounts import schemas, services
from poa_manager.accounts.login import account_settings
from poa_manager.api import api_blueprint
from poa_manager.api.pagination import page_of
from poa_manager.database import db, utcnow

blp = api_blueprint(
    "accounts_api", __name__, description="Your account, tokens, organisations, users, audit log"
)


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, schemas.MeSchema)
    def get(self):
        """The token's user, with their organisation and programme roles"""
        return g.api_user


@blp.route("/tokens")
class Tokens(MethodView):
    @blp.response(200, schemas.ApiTokenSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):
        """Your personal API tokens (never their values)"""
        return page_of(services.list_api_tokens(g.api_user), pagination_parameters)

    @blp.arguments(schemas.CreateApiTokenRequest)
    @blp.response(201, schemas.CreatedApiTokenSchema)
    def post(self, payload):
        """Create a personal API token: the response is the only time its value is shown"""
        token, plain = services.create_api_token(actor=g.api_user, now=utcnow(), **payload)
        db.session.commit()
        fields = schemas.ApiTokenSchema().fields
        return {"token": plain, **{name: getattr(token, name) for name in fields}}


@blp.route("/tokens/<int:token_id>")
class Token(MethodView):
    @blp.response(200, schemas.ApiTokenSchema)
    def delete(self, token_id):
        """Revoke one of your tokens; it stops working at once"""
        token = services.get_api_token(token_id, actor=g.api_user)
        services.revoke_api_token(token, actor=g.api_user, now=utcnow())
        db.session.commit()
        return token


@blp.route("/organisations")
class Organisations(MethodView):
    @blp.response(200, schemas.OrganisationSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):
        """Organisations you may see: all for administrators, your own otherwise"""
        return page_of(services.list_organisations(g.api_user), pagination_parameters)

    @blp.arguments(schemas.CreateOrganisationRequest)
    @blp.response(201, schemas.OrganisationSchema)
    def post(self, payload):
        """Register an organisation (administrators)"""
        organisation = services.create_organisation(actor=g.api_user, **payload)
        db.session.commit()
        return organisation


@blp.route("/organisations/<int:organisation_id>")
class Organisation(MethodView):
    @blp.response(200, schemas.OrganisationSchema)
    def get(self, organisation_id):
        """One organisation"""
        return services.get_organisation(organisation_id, actor=g.api_user)

    @blp.arguments(schemas.UpdateOrganisationRequest)
    @blp.response(200, schemas.OrganisationSchema)
    def patch(self, payload, organisation_id):
        """Change an organisation's name, kind, country or active flag (administrators)"""
        organisation = services.get_organisation(organisation_id, actor=g.api_user)
        current = {key: getattr(organisation, key) for key in ("name", "kind", "country_code", "is_active")}
        services.update_organisation(organisation, actor=g.api_user, **(current | payload))
        db.session.commit()
        return organisation


@blp.route("/users")
class Users(MethodView):
    @blp.response(200, schemas.UserSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):
        """Users you may see: all for administrators, your organisation's otherwise"""
        return page_of(services.list_users(g.api_user), pagination_parameters)

    @blp.arguments(schemas.CreateUserRequest)
    @blp.response(201, schemas.UserSchema)
    def post(self, payload):
        """Create a user with a first password they must change (administrators)"""
        user = services.create_user(actor=g.api_user, settings=account_settings(), **payload)
        db.session.commit()
        return user


@blp.route("/users/<int:user_id>")
class UserResource(MethodView):
    @blp.response(200, schemas.UserSchema)
    def get(self, user_id):
        """One user"""
        return services.get_user(user_id, actor=g.api_user)

    @blp.arguments(schemas.UpdateUserRequest)
    @blp.response(200, schemas.UserSchema)
    def patch(self, payload, user_id):
        """Change a user's name, organisation, admin flag or active flag (administrators)"""
        user = services.get_user(user_id, actor=g.api_user)
        current = {
            key: getattr(user, key) for key in ("full_name", "organisation_id", "is_admin", "is_active")
        }
        services.update_user(user, actor=g.api_user, **(current | payload))
        db.session.commit()
        return user


@blp.route("/users/<int:user_id>/unlock")
class UserUnlock(MethodView):
    @blp.response(200, schemas.UserSchema)
    def post(self, user_id):
        """Lift a lock-out after failed logins (administrators)"""
        user = services.unlock_user(services.get_user(user_id, actor=g.api_user), actor=g.api_user)
        db.session.commit()
        return user


@blp.route("/users/<int:user_id>/reset-link")
class UserResetLink(MethodView):
    @blp.response(201, schemas.ResetLinkSchema)
    def post(self, user_id):
        """Issue a one-time password-reset link to hand to the user (administrators); shown once"""
        user = services.get_user(user_id, actor=g.api_user)
        settings = account_settings()
        plain = services.issue_reset_link(user, actor=g.api_user, settings=settings, now=utcnow())
        db.session.commit()
        return {
            "url": url_for("accounts.reset_password", token=plain, _external=True),
            "expires_in_hours": settings.reset_admin_hours,
        }


@blp.route("/users/<int:user_id>/two-factor/reset")
class UserTwoFactorReset(MethodView):
    @blp.response(200, schemas.UserSchema)
    def post(self, user_id):
        """Clear a user's two-factor authentication (lost device and codes; administrators); their
        sessions end, and a user whose role requires it enrols again at the next login"""
        user = services.get_user(user_id, actor=g.api_user)
        services.reset_two_factor(user, actor=g.api_user, now=utcnow())
        db.session.commit()
        return user


@blp.route("/audit-entries")
class AuditEntries(MethodView):
    @blp.arguments(schemas.AuditQueryArgs, location="query")
    @blp.response(200, schemas.AuditEntrySchema(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """The hash-chained audit log, newest first (administrators)"""
        query = services.list_audit_entries(g.api_user, action_prefix=args["action_prefix"])
        return page_of(query, pagination_parameters)
