"""Beat's after-sales work: answers and receipts whose deadline passed."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="aftersales.tasks.after_sales_deadlines")
def after_sales_deadlines() -> dict[str, int]:
    return services.after_sales_deadlines_sweep()
