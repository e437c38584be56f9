"""The one place where a bulk order's stage changes: validating → validated → ordered → sending →
sent. Callers hold the row lock and save the stage with the counters they changed."""

from __future__ import annotations

from giftshop.errors import AppError

from .models import BulkOrder

Stage = BulkOrder.Stage
STAGE_TRANSITIONS = {
    Stage.VALIDATING: {Stage.VALIDATED},
    Stage.VALIDATED: {Stage.ORDERED},
    Stage.ORDERED: {Stage.SENDING},
    Stage.SENDING: {Stage.SENT},
    Stage.SENT: set(),
}


def bulk_order_move(order: BulkOrder, target: str) -> bool:
    """Set the next stage on a locked order (the caller saves it); False when it is already there."""
    if order.stage == target:
        return False
    if target not in STAGE_TRANSITIONS[order.stage]:
        raise AppError("illegal_transition", f"bulk order {order.pk} cannot move from {order.stage} to {target}.")
    order.stage = target
    return True
