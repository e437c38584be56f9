"""What the payments app tells the apps above it, without importing them.

Sent inside the transaction that changed the row (the row is locked), so a receiver's writes
commit or roll back with it. The gifts app connects its receivers in `GiftsConfig.ready`.
"""

from django.dispatch import Signal

# payment=Payment (just marked paid), notice=PaymentNotice. A receiver returns a short outcome for
# the log ("paid", "refunded_late_payment").
payment_paid = Signal()
# refunds=list[Refund] (just recorded, pending at the gateway).
refunds_requested = Signal()
# refund=Refund (just marked succeeded).
refund_succeeded = Signal()
