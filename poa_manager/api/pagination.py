"""Pagination of scoped queries for list endpoints (flask-smorest's page/page_size)."""

import sqlalchemy as sa

from poa_manager.database import db


def page_of(query: sa.Select, pagination_parameters) -> list:
    """One page of `query`; sets the total so flask-smorest can write the X-Pagination header."""
    page = db.paginate(
        query, page=pagination_parameters.page, per_page=pagination_parameters.page_size, error_out=False
    )
    pagination_parameters.item_count = page.total
    return list(page.items)
