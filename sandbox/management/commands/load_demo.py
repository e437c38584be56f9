"""Demo data: shops, a category tree with the excluded top levels, products and the demo accounts,
plus a group lottery and a bulk gift from alice so those pages have something to show.

Demo accounts exist only here, never in production settings: there the command refuses, but on a
site that declares itself staging (ALLOW_SANDBOX) and says so (--staging). Safe to run twice.
"""

from datetime import timedelta

from celery import current_app as celery_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone
from django.utils.module_loading import import_string
from rest_framework.authtoken.models import Token

from accounts.models import Phone
from accounts.services.phones import phone_set
from campaigns.models import BulkOrder
from campaigns.services import bulk, lottery
from gifts.models import Gift
from sandbox import demo_photos
from sandbox.payment import gateway_pay
from shops.models import Category, Product, Shop, ShopStaff, Sku

PASSWORD = "giftshop-demo"
# The demo senders and recipients can also sign in with a phone number and an SMS code.
DEMO_PHONES = {"alice": "13800000001", "bob": "13800000002", "carol": "13800000003"}

CATEGORIES = {
    "食品饮料": ["茶饮", "糕点"],
    "服饰配件": ["围巾", "T恤"],
    "数码家电": ["相机"],
    "珠宝首饰": ["戒指"],
    "教育培训": ["在线课程"],
}
EXCLUDED = {"珠宝首饰", "教育培训"}

SHOPS = [
    (
        "暖心小铺",
        "nuanxin",
        "merchant",
        [
            (
                "招牌珍珠奶茶 · 两杯装",
                "茶饮",
                "tea",
                [({"杯型": "中杯"}, 2800, 3200, 500), ({"杯型": "大杯"}, 3400, 3800, 300)],
            ),
            (
                "草莓奶油生日蛋糕",
                "糕点",
                "cake",
                [({"尺寸": "6 寸"}, 16800, 19800, 40), ({"尺寸": "8 寸"}, 22800, 25800, 20)],
            ),
            (
                "羊绒围巾",
                "围巾",
                "scarf",
                [
                    ({"颜色": "藏青"}, 39900, 59900, 60),
                    ({"颜色": "驼色"}, 39900, 59900, 60),
                    ({"颜色": "酒红"}, 36900, 59900, 5),
                ],
            ),
            (
                "纯棉情侣 T 恤",
                "T恤",
                "tshirt",
                [
                    ({"尺码": "S"}, 9900, 12900, 100),
                    ({"尺码": "M"}, 9900, 12900, 100),
                    ({"尺码": "L"}, 9900, 12900, 100),
                ],
            ),
            (
                "专业无反相机",
                "相机",
                "camera",
                [({"套装": "单机身"}, 899900, 999900, 5), ({"套装": "镜头套装"}, 1099900, 1299900, 5)],
            ),
        ],
    ),
    (
        "星光珠宝",
        "xingguang",
        "merchant2",
        [
            ("925 银戒指", "戒指", "ring", [({"尺寸": "12 号"}, 29900, 39900, 30)]),
            (
                "节日礼盒",
                "糕点",
                "giftbox",
                [({"口味": "坚果"}, 19900, 22900, 80), ({"口味": "糕点"}, 17900, 19900, 80)],
            ),
        ],
    ),
    (
        "好课学堂",
        "haoke",
        None,
        [
            ("摄影入门 30 讲", "在线课程", "course", [({"版本": "标准"}, 19900, 29900, 999)]),
        ],
    ),
]

DEMO_LOTTERY_PRODUCT, DEMO_LOTTERY_SKU = "招牌珍珠奶茶 · 两杯装", {"杯型": "中杯"}
DEMO_LOTTERY_MESSAGE = "周五下午茶，群里抽三位朋友请喝奶茶！"
DEMO_BULK_PRODUCT, DEMO_BULK_SKU = "节日礼盒", {"口味": "坚果"}
DEMO_BULK_MESSAGE = "新春快乐，感谢一年的辛苦！"
DEMO_BULK_LIST = (
    "姓名,手机号或邮箱,备注\n张伟,13800138001,市场部\n李娜,lina@example.com,研发部\n王芳,13900139002,行政部\n"
)


# Where each demo shop ships from (made up): printed on its e-waybills as the sender.
SHIP_FROM = {
    "nuanxin": ("暖心小铺发货组", "02160000001", "上海市 浦东新区 张江路 88 号 暖心小铺仓库"),
    "xingguang": ("星光珠宝客服", "075560000002", "广东省 深圳市 罗湖区 水贝二路 6 号 星光珠宝"),
    "haoke": ("好课学堂", "01060000003", "北京市 海淀区 中关村大街 27 号"),
}
SHIP_FROM_FIELDS = ("ship_from_name", "ship_from_phone", "ship_from_address")


class Command(BaseCommand):
    help = "Load the demo shops, products and accounts (password: giftshop-demo)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--staging",
            action="store_true",
            help="load it under production settings too, on a site that declares itself staging (ALLOW_SANDBOX)",
        )

    def handle(self, *args, **options):
        if getattr(settings, "PRODUCTION", False) and not (settings.ALLOW_SANDBOX and options["staging"]):
            raise CommandError(
                f"load_demo makes accounts whose password is published ({PASSWORD}), so production settings "
                "refuse it. On a staging site (ALLOW_SANDBOX=True) run it with --staging."
            )
        users = self._catalogue()
        self._group_gifts(users)
        # The dashboard reads daily roll-ups, which beat makes every 10 minutes: make today's now, so
        # that a merchant's first look shows the demo's orders. (By its name, as the outbox names tasks:
        # no app imports the sandbox, and the sandbox keeps out of the merchant site.)
        import_string("merchant.tasks.rollup_shop_stats").apply()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready. Accounts (password {PASSWORD}): merchant, merchant2, alice, bob, carol; operator: admin. "
                "Phone sign-in (the code is printed by the console SMS provider): "
                + ", ".join(f"{name} {phone}" for name, phone in DEMO_PHONES.items())
            )
        )

    @transaction.atomic
    def _catalogue(self) -> dict:
        User = get_user_model()
        users = {}
        for username, email in [
            ("merchant", "merchant@example.com"),
            ("merchant2", "merchant2@example.com"),
            ("alice", "alice@example.com"),
            ("bob", "bob@example.com"),
            ("carol", "carol@example.com"),
        ]:
            user, created = User.objects.get_or_create(username=username, defaults={"email": email})
            if created:
                user.set_password(PASSWORD)
                user.save()
            Token.objects.get_or_create(user=user)
            users[username] = user
            if username in DEMO_PHONES and not Phone.objects.filter(number=DEMO_PHONES[username]).exists():
                phone_set(user=user, phone=DEMO_PHONES[username], verified=True)
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", PASSWORD)

        cats = {}
        for top, children in CATEGORIES.items():
            root, _ = Category.objects.get_or_create(
                name=top, parent=None, defaults={"gifting_excluded": top in EXCLUDED}
            )
            for child in children:
                cats[child], _ = Category.objects.get_or_create(name=child, parent=root)

        for name, slug, staff, products in SHOPS:
            shop, _ = Shop.objects.get_or_create(slug=slug, defaults={"name": name, "print_blessing_card": True})
            blank = [f for f in SHIP_FROM_FIELDS if not getattr(shop, f)]  # a merchant's own entries stay
            if blank and slug in SHIP_FROM:
                for field, value in zip(SHIP_FROM_FIELDS, SHIP_FROM[slug], strict=True):
                    if field in blank:
                        setattr(shop, field, value)
                shop.save(update_fields=blank)
            if staff:
                ShopStaff.objects.get_or_create(shop=shop, user=users[staff], defaults={"role": ShopStaff.Role.OWNER})
            for title, cat, photo, skus in products:
                product, created = Product.objects.get_or_create(
                    shop=shop,
                    title=title,
                    defaults={"category": cats[cat], "description": f"{title}，适合送给朋友和家人。"},
                )
                if created:
                    Sku.objects.bulk_create(
                        Sku(product=product, attributes=a, price_fen=p, original_price_fen=o, stock=s)
                        for a, p, o, s in skus
                    )
                self._photos(product, photo)
        return users

    def _photos(self, product: Product, photo: str) -> None:
        """Draw the product's photo (and the scarf's one per colour) where there is none yet: a
        database made before photos existed gets them on the next run. Saved through the storage
        API like a merchant's upload, so the thumbnails are made the same way."""
        if not product.image:
            product.image.save(f"{photo}.png", ContentFile(demo_photos.PHOTOS[photo]()), save=True)
        if photo == "scarf":
            for sku in product.skus.all():
                colour = sku.attributes.get("颜色")
                if colour in demo_photos.SCARF_COLOURS and not sku.image:
                    sku.image.save(f"scarf-{colour}.png", ContentFile(demo_photos.scarf(colour)), save=True)

    def _group_gifts(self, users: dict) -> None:
        """A paid lottery bob has entered and a paid bulk gift to a short list, made through the
        services and paid at the sandbox gateway. Outside the catalogue's transaction, so the
        on-commit work (list validation, the payment callback, sending links) runs at once, eagerly,
        in-process, whatever broker the environment names."""
        if transaction.get_connection().in_atomic_block:
            # Called inside a caller's transaction (a test wrapped in one): on-commit work would never
            # run, so the list would never be validated nor the payment confirmed. Leave them out.
            self.stdout.write("Inside a transaction: the demo lottery and bulk gift are left out.")
            return
        alice = users["alice"]
        eager = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = True
        try:
            with override_settings(SANDBOX_CALLBACK_BASE_URL="", SANDBOX_CALLBACK_DELAY=0):
                if not Gift.objects.filter(sender=alice, mode=Gift.Mode.LOTTERY, message=DEMO_LOTTERY_MESSAGE).exists():
                    sku = Sku.objects.get(product__title=DEMO_LOTTERY_PRODUCT, attributes=DEMO_LOTTERY_SKU)
                    gift = lottery.lottery_create(
                        sender=alice,
                        sku_id=sku.pk,
                        winners=3,
                        draw_at=timezone.now() + timedelta(days=2),
                        message=DEMO_LOTTERY_MESSAGE,
                    )
                    gateway_pay(out_trade_no=gift.payment.out_trade_no)
                    gift.refresh_from_db()
                    lottery.lottery_enter(gift=gift, user=users["bob"])
                if not BulkOrder.objects.filter(sender=alice, message=DEMO_BULK_MESSAGE).exists():
                    sku = Sku.objects.get(product__title=DEMO_BULK_PRODUCT, attributes=DEMO_BULK_SKU)
                    order = bulk.bulk_order_create(
                        sender=alice, sku_id=sku.pk, csv_text=DEMO_BULK_LIST, message=DEMO_BULK_MESSAGE
                    )
                    order.refresh_from_db()
                    gift = bulk.bulk_checkout(order=order, sender=alice)
                    gateway_pay(out_trade_no=gift.payment.out_trade_no)
        finally:
            celery_app.conf.task_always_eager = eager
