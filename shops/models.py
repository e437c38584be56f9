"""Shops with their one gifting switch, staff with roles, the category tree, products and SKUs."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from shops import images


class CourierCompany(models.TextChoices):
    """Courier companies a shop ships with, by their Kuaidi100 company codes (快递公司编码, the
    `kuaidicom` / `company` fields of Kuaidi100's e-waybill and subscription APIs)."""

    SHUNFENG = "shunfeng", _("顺丰速运")
    ZHONGTONG = "zhongtong", _("中通快递")
    YUANTONG = "yuantong", _("圆通速递")
    YUNDA = "yunda", _("韵达快递")
    SHENTONG = "shentong", _("申通快递")
    JD = "jd", _("京东物流")
    EMS = "ems", _("EMS")
    YOUZHENG = "youzhengguonei", _("邮政快递包裹")
    JTEXPRESS = "jtexpress", _("极兔速递")
    DEBANG = "debangkuaidi", _("德邦快递")


class Shop(models.Model):
    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(unique=True)
    description = models.TextField(_("description"), blank=True)
    # Rule 4: gifting is switched off for a whole shop only, never per product.
    gifting_enabled = models.BooleanField(_("gifting enabled"), default=True)
    print_blessing_card = models.BooleanField(_("print blessing card in parcels"), default=False)
    # WeChat Pay service-provider mode (服务商): this shop's own merchant number, so its money
    # settles to it; issued by WeChat Pay when the platform signs the shop up.
    wechatpay_sub_mchid = models.CharField(_("WeChat Pay sub-merchant id"), max_length=32, blank=True)
    # E-waybills: the courier this shop ships with (empty: the site's KUAIDI100_DEFAULT_COMPANY) and
    # the sender printed on every label (寄件人). An empty name prints the shop's name.
    courier_company = models.CharField(_("courier company"), max_length=20, choices=CourierCompany.choices, blank=True)
    ship_from_name = models.CharField(_("ship-from contact"), max_length=50, blank=True)
    ship_from_phone = models.CharField(_("ship-from phone"), max_length=20, blank=True)
    ship_from_address = models.CharField(_("ship-from address"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("shop")
        verbose_name_plural = _("shops")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("shop-detail", args=[self.slug])


class ShopStaff(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("owner")
        MANAGER = "manager", _("manager")
        SHIPPER = "shipper", _("shipper")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="staff")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shop_roles")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MANAGER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "user"], name="shopstaff_unique_member")]
        verbose_name = _("shop staff")
        verbose_name_plural = _("shop staff")

    def __str__(self) -> str:
        return f"{self.user} @ {self.shop} ({self.role})"


class Category(models.Model):
    """A category tree. The top level decides gifting exclusions (rule 2), as data an operator edits."""

    name = models.CharField(_("name"), max_length=60)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    gifting_excluded = models.BooleanField(
        _("excluded from gifting"), default=False, help_text=_("Only read on top-level categories.")
    )
    # The top-level ancestor, kept on save so eligibility needs no tree walk.
    root = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False)

    class Meta:
        ordering = ["id"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name if self.parent_id is None else f"{self.parent} / {self.name}"

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        root_id = self.parent.root_id if self.parent_id else self.pk
        if self.root_id != root_id:
            self.root_id = root_id
            Category.objects.filter(pk=self.pk).update(root_id=root_id)
            for child in self.children.all():
                child.save()


class Product(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="products")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    title = models.CharField(_("title"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    image = models.ImageField(
        _("photo"),
        max_length=200,
        blank=True,
        upload_to=images.photo_upload_to,
        validators=[images.validate_photo],
        help_text=_("JPEG, PNG or WebP, at most 5 MB, 200 to 4096 pixels a side; square looks best."),
    )
    on_sale = models.BooleanField(_("on sale"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Sizes made from `image` when it is saved (shops/images.py); never stored in a column.
    image_tile = images.tile_spec()
    image_large = images.large_spec()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["shop", "on_sale"])]
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("product-detail", args=[self.pk])

    @property
    def from_price_fen(self) -> int | None:
        """The cheapest SKU's price: what a tile says "from" (uses the prefetched SKUs)."""
        prices = [sku.price_fen for sku in self.skus.all()]
        return min(prices) if prices else None

    @property
    def tile_url(self) -> str:
        """The square photo's URL, or "" without a photo (the page then shows its placeholder)."""
        return self.image_tile.url if self.image else ""

    @property
    def large_url(self) -> str:
        return self.image_large.url if self.image else ""


class Sku(models.Model):
    """A 款式: one purchasable variant. Money is integer fen."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="skus")
    attributes = models.JSONField(_("attributes"), default=dict, blank=True, help_text=_('e.g. {"颜色": "红"}'))
    price_fen = models.PositiveIntegerField(_("price (fen)"))
    original_price_fen = models.PositiveIntegerField(_("original price (fen)"))
    stock = models.IntegerField(_("stock"), default=0)
    image = models.ImageField(
        _("photo"),
        max_length=200,
        blank=True,
        upload_to=images.photo_upload_to,
        validators=[images.validate_photo],
        help_text=_("Optional: this 款式's own photo (e.g. its colour); else the product's photo is shown."),
    )
    image_thumb = images.thumb_spec()
    image_tile = images.tile_spec()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(stock__gte=0), name="sku_stock_not_negative"),
            models.CheckConstraint(condition=Q(price_fen__gt=0), name="sku_price_positive"),
        ]
        verbose_name = _("SKU")
        verbose_name_plural = _("SKUs")

    def __str__(self) -> str:
        return f"{self.product.title} · {self.label}"

    @property
    def label(self) -> str:
        return " / ".join(str(v) for v in self.attributes.values()) or "默认"

    @property
    def thumb_url(self) -> str:
        """This 款式's own small photo, else the product's square photo, else ""."""
        return self.image_thumb.url if self.image else self.product.tile_url

    @property
    def tile_url(self) -> str:
        return self.image_tile.url if self.image else self.product.tile_url
