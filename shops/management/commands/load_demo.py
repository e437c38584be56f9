"""Demo data: shops, a category tree with the excluded top levels, products and the demo accounts.

Demo accounts exist only here, never in production settings. Safe to run twice.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from rest_framework.authtoken.models import Token

from shops.models import Category, Product, Shop, ShopStaff, Sku

PASSWORD = "giftshop-demo"

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
                "img/tea.svg",
                [({"杯型": "中杯"}, 2800, 3200, 500), ({"杯型": "大杯"}, 3400, 3800, 300)],
            ),
            (
                "草莓奶油生日蛋糕",
                "糕点",
                "img/cake.svg",
                [({"尺寸": "6 寸"}, 16800, 19800, 40), ({"尺寸": "8 寸"}, 22800, 25800, 20)],
            ),
            (
                "羊绒围巾",
                "围巾",
                "img/scarf.svg",
                [
                    ({"颜色": "藏青"}, 39900, 59900, 60),
                    ({"颜色": "驼色"}, 39900, 59900, 60),
                    ({"颜色": "酒红"}, 36900, 59900, 5),
                ],
            ),
            (
                "纯棉情侣 T 恤",
                "T恤",
                "img/tshirt.svg",
                [
                    ({"尺码": "S"}, 9900, 12900, 100),
                    ({"尺码": "M"}, 9900, 12900, 100),
                    ({"尺码": "L"}, 9900, 12900, 100),
                ],
            ),
            (
                "专业无反相机",
                "相机",
                "img/camera.svg",
                [({"套装": "单机身"}, 899900, 999900, 5), ({"套装": "镜头套装"}, 1099900, 1299900, 5)],
            ),
        ],
    ),
    (
        "星光珠宝",
        "xingguang",
        "merchant2",
        [
            ("925 银戒指", "戒指", "img/ring.svg", [({"尺寸": "12 号"}, 29900, 39900, 30)]),
            (
                "节日礼盒",
                "糕点",
                "img/giftbox.svg",
                [({"口味": "坚果"}, 19900, 22900, 80), ({"口味": "糕点"}, 17900, 19900, 80)],
            ),
        ],
    ),
    (
        "好课学堂",
        "haoke",
        None,
        [
            ("摄影入门 30 讲", "在线课程", "img/course.svg", [({"版本": "标准"}, 19900, 29900, 999)]),
        ],
    ),
]


class Command(BaseCommand):
    help = "Load the demo shops, products and accounts (password: giftshop-demo)."

    @transaction.atomic
    def handle(self, *args, **options):
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
            if staff:
                ShopStaff.objects.get_or_create(shop=shop, user=users[staff], defaults={"role": ShopStaff.Role.OWNER})
            for title, cat, image, skus in products:
                product, created = Product.objects.get_or_create(
                    shop=shop,
                    title=title,
                    defaults={"category": cats[cat], "image": image, "description": f"{title}，适合送给朋友和家人。"},
                )
                if created:
                    Sku.objects.bulk_create(
                        Sku(product=product, attributes=a, price_fen=p, original_price_fen=o, stock=s)
                        for a, p, o, s in skus
                    )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready. Accounts (password {PASSWORD}): merchant, merchant2, alice, bob, carol; operator: admin"
            )
        )
