"""The programme record. Its design, boundary and crediting rules arrive with the programmes issue."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from poa_manager.database import Timestamped, db

if TYPE_CHECKING:
    from poa_manager.accounts.models import Organisation
    from poa_manager.sites.models import Site


class Mechanism(StrEnum):
    jcm = "jcm"
    cdm_poa = "cdm_poa"
    gold_standard = "gold_standard"
    verra_grouped = "verra_grouped"
    article6_cooperative = "article6_cooperative"

    @property
    def label(self) -> str:
        return _MECHANISM_LABELS[self]


_MECHANISM_LABELS = {
    Mechanism.jcm: "JCM",
    Mechanism.cdm_poa: "CDM PoA",
    Mechanism.gold_standard: "Gold Standard VPA programme",
    Mechanism.verra_grouped: "Verra grouped project",
    Mechanism.article6_cooperative: "Article 6.2 cooperative approach",
}


class ProgrammeStatus(StrEnum):  # first state only; the lifecycle comes with the programmes issue
    draft = "draft"


class Programme(Timestamped, db.Model):
    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)  # e.g. "VN-JCM-PoA-001"
    title: Mapped[str] = mapped_column(String(300))
    mechanism: Mapped[Mechanism]
    host_country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    coordinating_entity_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    status: Mapped[ProgrammeStatus] = mapped_column(default=ProgrammeStatus.draft)

    coordinating_entity: Mapped[Organisation] = relationship()
    sites: Mapped[list[Site]] = relationship(back_populates="programme", order_by="Site.reference")
