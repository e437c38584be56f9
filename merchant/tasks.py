"""Beat's entry point for the dashboard's daily rollups."""

from celery import shared_task

from merchant.stats import stats_rollup_recent


@shared_task
def rollup_shop_stats() -> int:
    """Beat: refresh the last days' rollups behind the dashboard."""
    return stats_rollup_recent()
