"""The inbox and preferences through the services, the pages and the API: each user reads and marks
only their own notifications (another's is 404), newest first, paginated, with an unread filter."""

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from poa_manager.database import db
from poa_manager.errors import InvalidInput, NotFound
from poa_manager.notifications import catalogue, services
from poa_manager.notifications.models import Notification
from tests.integration.notifications.conftest import inbox


def _some(user, count: int, category: str = "site_checked") -> list[Notification]:
    made = [
        services.notify(
            user.id, category=category, subject=f"Notice {i}", body=f"Body {i}", link="/registry/"
        )
        for i in range(count)
    ]
    db.session.flush()
    return made


def test_list_is_newest_first_and_filters_unread(world):
    first, second, third = _some(world.coordinator, 3)
    services.mark_read(second, actor=world.coordinator)

    listed = db.session.scalars(services.list_notifications(world.coordinator)).all()
    assert [n.id for n in listed] == [third.id, second.id, first.id]
    unread = db.session.scalars(services.list_notifications(world.coordinator, unread_only=True)).all()
    assert [n.id for n in unread] == [third.id, first.id]
    assert services.unread_count(world.coordinator) == 2
    assert services.mark_all_read(actor=world.coordinator) == 2
    assert services.unread_count(world.coordinator) == 0


def test_nobody_reads_or_marks_another_users_notification(world):
    [theirs] = _some(world.coordinator, 1)
    with pytest.raises(NotFound):
        services.get_notification(theirs.id, actor=world.outsider)
    with pytest.raises(NotFound):
        services.mark_read(theirs, actor=world.outsider)
    with pytest.raises(NotFound):
        services.get_notification(theirs.id, actor=world.admin)  # personal, admins included
    services.mark_all_read(actor=world.outsider)
    assert theirs.read_at is None
    assert db.session.scalars(services.list_notifications(world.outsider)).all() == []


def test_preferences_default_on_and_refuse_unknown_categories(world):
    shown = services.preferences(world.viewer)
    assert [p.category for p in shown] == [c.key for c in catalogue.CATEGORIES]
    assert all(p.in_app and p.email for p in shown)
    services.set_preferences(actor=world.viewer, choices={"credits_moved": {"email": False}})
    changed = {p.category: (p.in_app, p.email) for p in services.preferences(world.viewer)}
    assert changed["credits_moved"] == (True, False) and changed["retirement_done"] == (True, True)
    with pytest.raises(InvalidInput):
        services.set_preferences(actor=world.viewer, choices={"nonsense": {"email": False}})


# --- pages --------------------------------------------------------------------------------------


def test_inbox_page_highlights_unread_and_marks_read(world, login_as):
    older, newer = _some(world.coordinator, 2)
    services.mark_read(older, actor=world.coordinator)
    client = login_as(world.coordinator)

    page = client.get("/notifications/").get_data(as_text=True)
    assert page.index("Notice 1") < page.index("Notice 0")  # newest first
    assert f'data-state="unread" data-id="{newer.id}"' in page
    assert f'data-state="read" data-id="{older.id}"' in page
    assert "Unread (1)" in page

    response = client.post(f"/notifications/{newer.id}/read", data={"open": "1"})
    assert response.status_code == 302 and response.headers["Location"] == "/registry/"
    assert inbox(world.coordinator)[1].read_at is not None

    _some(world.coordinator, 2)
    client.post("/notifications/read-all")
    assert services.unread_count(world.coordinator) == 0
    assert "No unread notifications." in client.get("/notifications/?unread=1").get_data(as_text=True)


def test_another_users_notification_is_404_on_the_page(world, login_as):
    [theirs] = _some(world.coordinator, 1)
    client = login_as(world.outsider)
    assert client.post(f"/notifications/{theirs.id}/read").status_code == 404
    assert "Notice 0" not in client.get("/notifications/").get_data(as_text=True)


def test_inbox_paginates(world, login_as):
    _some(world.coordinator, 51)
    client = login_as(world.coordinator)
    assert "Page 1 of 2 (51 in all)" in client.get("/notifications/").get_data(as_text=True)
    second = client.get("/notifications/?page=2").get_data(as_text=True)
    assert "Notice 0" in second and "Notice 50" not in second


def test_preferences_page_saves_switches(world, login_as):
    client = login_as(world.viewer)
    page = client.get("/notifications/preferences").get_data(as_text=True)
    assert "Retirement done" in page and "nothing is e-mailed for now" in page
    form = {f"{c.key}__in_app": "y" for c in catalogue.CATEGORIES}  # every e-mail switch left off
    form.pop("transfer_pending__in_app")
    assert client.post("/notifications/preferences", data=form).status_code == 302
    chosen = {p.category: (p.in_app, p.email) for p in services.preferences(world.viewer)}
    assert chosen["transfer_pending"] == (False, False) and chosen["credits_moved"] == (True, False)


def test_unread_count_is_one_count_for_users_and_no_query_for_anonymous(app, world, login_as, client):
    _some(world.coordinator, 2)
    statements = []

    def remember(_conn, _cursor, statement, *_args):
        statements.append(statement)

    bind = db.session.get_bind()
    event.listen(bind, "before_cursor_execute", remember)
    try:
        client.get("/login")
        anonymous = [s for s in statements if "notifications" in s]
        statements.clear()
        login_as(world.coordinator).get("/notifications/preferences")
        counted = [s for s in statements if "count(" in s.lower() and "FROM notifications" in s]
    finally:
        event.remove(bind, "before_cursor_execute", remember)
    assert anonymous == []
    assert len(counted) == 1
    with app.test_request_context():
        from flask import render_template_string
        from flask_login import login_user

        login_user(world.coordinator)
        assert render_template_string("{{ unread_notifications }}") == "2"


# --- the API ------------------------------------------------------------------------------------


def test_api_lists_marks_and_scopes(world, client, api_headers_for):
    first, second, third = _some(world.coordinator, 3)
    headers = api_headers_for(world.coordinator)

    listed = client.get("/api/v1/notifications?page_size=2", headers=headers)
    assert listed.status_code == 200
    assert [n["id"] for n in listed.json] == [third.id, second.id]
    assert '"total": 3' in listed.headers["X-Pagination"]

    marked = client.post(f"/api/v1/notifications/{second.id}/read", headers=headers)
    assert marked.status_code == 200 and marked.json["read_at"]
    unread = client.get("/api/v1/notifications?unread=true", headers=headers).json
    assert [n["id"] for n in unread] == [third.id, first.id]
    assert client.post("/api/v1/notifications/read-all", headers=headers).json == {"marked": 2}

    outsider = api_headers_for(world.outsider)
    assert client.post(f"/api/v1/notifications/{first.id}/read", headers=outsider).status_code == 404
    assert client.get("/api/v1/notifications", headers=outsider).json == []
    assert client.get("/api/v1/notifications").status_code == 401


def test_api_preferences_get_and_put(world, client, api_headers_for):
    headers = api_headers_for(world.viewer)
    shown = client.get("/api/v1/notifications/preferences", headers=headers).json
    assert {p["category"] for p in shown} == set(catalogue.BY_KEY)
    response = client.put(
        "/api/v1/notifications/preferences",
        json={"preferences": [{"category": "retirement_done", "email": False}]},
        headers=headers,
    )
    assert response.status_code == 200
    [retirement] = [p for p in response.json if p["category"] == "retirement_done"]
    assert (retirement["in_app"], retirement["email"]) == (True, False)
    refused = client.put(
        "/api/v1/notifications/preferences",
        json={"preferences": [{"category": "nope", "email": False}]},
        headers=headers,
    )
    assert refused.status_code == 422
    stored = db.session.scalar(sa.select(sa.func.count()).select_from(Notification))
    assert stored == 0  # preferences are no notifications
