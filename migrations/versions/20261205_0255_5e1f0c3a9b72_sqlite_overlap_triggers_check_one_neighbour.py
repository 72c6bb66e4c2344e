"""SQLite overlap triggers compare a new block with its one neighbour, not every block

The first triggers scanned every earlier block of the programme and vintage, so issuing N blocks
cost N²/2 comparisons (bench/bench_registry.py: 419 s for 100,000 blocks). Blocks never overlap,
so a new range overlaps one exactly when the block with the greatest start at or below its end
reaches its start. PostgreSQL keeps its exclusion constraint; nothing changes there.

Revision ID: 5e1f0c3a9b72
Revises: c8ecf1abd7f8
Create Date: 2026-12-05 02:55:00

"""
from alembic import op

revision = '5e1f0c3a9b72'
down_revision = 'c8ecf1abd7f8'
branch_labels = None
depends_on = None

_NEIGHBOUR = """
           WHEN EXISTS (SELECT 1 FROM (SELECT b.serial_end FROM credit_blocks b
                                       WHERE b.programme_id = NEW.programme_id AND b.vintage = NEW.vintage
                                         AND b.serial_start <= NEW.serial_end{other}
                                       ORDER BY b.serial_start DESC LIMIT 1)
                        WHERE serial_end >= NEW.serial_start)
           BEGIN SELECT RAISE(ABORT, 'credit_blocks overlap'); END"""
_EVERY = """
           WHEN EXISTS (SELECT 1 FROM credit_blocks b WHERE {other}b.programme_id = NEW.programme_id
                        AND b.vintage = NEW.vintage AND b.serial_start <= NEW.serial_end
                        AND NEW.serial_start <= b.serial_end)
           BEGIN SELECT RAISE(ABORT, 'credit_blocks overlap'); END"""


def _create(body: str) -> None:
    op.execute(
        "CREATE TRIGGER credit_blocks_no_overlap_insert BEFORE INSERT ON credit_blocks"
        + body.format(other="")
    )
    op.execute(
        "CREATE TRIGGER credit_blocks_no_overlap_update BEFORE UPDATE OF serial_start, serial_end ON credit_blocks"
        + body.format(other=" AND b.id != NEW.id" if body is _NEIGHBOUR else "b.id != NEW.id AND ")
    )


def _drop() -> None:
    op.execute("DROP TRIGGER credit_blocks_no_overlap_update")
    op.execute("DROP TRIGGER credit_blocks_no_overlap_insert")


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        _drop()
        _create(_NEIGHBOUR)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        _drop()
        _create(_EVERY)
