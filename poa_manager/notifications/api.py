"""JSON endpoints of the notifications feature: one's own inbox and preferences."""

from flask import g

from poa_manager.api import api_blueprint
from poa_manager.api.pagination import page_of
from poa_manager.database import db
from poa_manager.notifications import schemas, services

blp = api_blueprint(
    "notifications_api", __name__, url_prefix="/notifications", description="Notifications: your inbox"
)


@blp.route("")
@blp.arguments(schemas.NotificationQuery, location="query")
@blp.response(200, schemas.NotificationSchema(many=True))
@blp.paginate()
def list_notifications(query, pagination_parameters):
    """Your notifications, newest first (`unread=true`: only the unread ones)"""
    return page_of(
        services.list_notifications(g.api_user, unread_only=query["unread"]), pagination_parameters
    )


@blp.route("/<int:notification_id>/read", methods=["POST"])
@blp.response(200, schemas.NotificationSchema)
def mark_read(notification_id):
    """Mark one of your notifications read (another person's is not found)"""
    notification = services.get_notification(notification_id, actor=g.api_user)
    services.mark_read(notification, actor=g.api_user)
    db.session.commit()
    return notification


@blp.route("/read-all", methods=["POST"])
@blp.response(200, schemas.ReadAllSchema)
def mark_all_read():
    """Mark all your notifications read"""
    marked = services.mark_all_read(actor=g.api_user)
    db.session.commit()
    return {"marked": marked}


@blp.route("/preferences", methods=["GET"])
@blp.response(200, schemas.PreferenceSchema(many=True))
def get_preferences():
    """Every category with your choice: in the app and by e-mail (both on unless switched off)"""
    return services.preferences(g.api_user)


@blp.route("/preferences", methods=["PUT"])
@blp.arguments(schemas.SetPreferencesRequest)
@blp.response(200, schemas.PreferenceSchema(many=True))
def set_preferences(payload):
    """Switch categories on or off, in the app and by e-mail"""
    choices = {
        item["category"]: {
            channel: item[channel] for channel in ("in_app", "email") if item[channel] is not None
        }
        for item in payload["preferences"]
    }
    preferences = services.set_preferences(actor=g.api_user, choices=choices)
    db.session.commit()
    return preferences
