"""Sites, the components of a programme. Meters and eligibility arrive with the inclusion issue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from poa_manager.database import Timestamped, db

if TYPE_CHECKING:
    from poa_manager.programmes.models import Programme


class Site(Timestamped, db.Model):
    __tablename__ = "sites"
    __table_args__ = (
        UniqueConstraint("programme_id", "reference"),
        # Target of memberships' composite key: a site operator's site is in their programme.
        UniqueConstraint("id", "programme_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    reference: Mapped[str] = mapped_column(String(40))  # as in the CPA-DD, e.g. "CPA-0007"
    name: Mapped[str] = mapped_column(String(200))

    programme: Mapped[Programme] = relationship(back_populates="sites")
