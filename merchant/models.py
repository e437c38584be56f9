"""Daily rollups behind the merchant dashboard: a few dozen rows per shop, however many orders it has."""

from django.db import models


class ShopDailyStats(models.Model):
    """One shop's gifting figures for one local day, rolled up by a beat task so the dashboard
    reads a few dozen rows however many orders the shop has."""

    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="daily_stats")
    day = models.DateField()
    gifts_paid = models.PositiveIntegerField(default=0)
    revenue_fen = models.BigIntegerField(default=0)
    slots_sent = models.PositiveIntegerField(default=0)
    slots_accepted = models.PositiveIntegerField(default=0)
    slots_shipped = models.PositiveIntegerField(default=0)
    slots_delivered = models.PositiveIntegerField(default=0)
    refunds = models.PositiveIntegerField(default=0)
    refunded_fen = models.BigIntegerField(default=0)
    median_accept_seconds = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "shops_shopdailystats"  # kept from before the app split
        ordering = ["shop_id", "day"]
        constraints = [models.UniqueConstraint(fields=["shop", "day"], name="shopdailystats_unique_day")]

    def __str__(self) -> str:
        return f"{self.shop} {self.day}"


class ProductDailyStats(models.Model):
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey("shops.Product", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    units_gifted = models.PositiveIntegerField(default=0)
    revenue_fen = models.BigIntegerField(default=0)

    class Meta:
        db_table = "shops_productdailystats"  # kept from before the app split
        constraints = [models.UniqueConstraint(fields=["product", "day"], name="productdailystats_unique_day")]
        indexes = [models.Index(fields=["shop", "day"])]

    def __str__(self) -> str:
        return f"{self.product} {self.day}"
