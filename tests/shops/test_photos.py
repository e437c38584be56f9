"""Product photos: what an upload must be, the merchant's form, the sizes, and where pages show them."""

import importlib
import io
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from shops.images import validate_photo
from shops.models import Product
from tests.factories import ProductFactory, SkuFactory
from tests.photos import give_photo, picture, png_bomb

pytestmark = pytest.mark.django_db


def upload(data: bytes, name: str = "photo.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def refusal(data: bytes, name: str = "photo.png") -> ValidationError:
    with pytest.raises(ValidationError) as info:
        validate_photo(upload(data, name))
    return info.value


def fetch_image(client, url: str) -> Image.Image:
    """GET a photo URL as a browser or a chat preview would, and open what comes back."""
    response = client.get(urlsplit(url).path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    img = Image.open(io.BytesIO(body))
    img.load()
    return img


# ----- what an upload must be -----


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_jpeg_png_and_webp_photos_are_accepted(fmt):
    validate_photo(upload(picture(fmt=fmt), f"p.{fmt.lower()}"))


def test_a_gif_is_refused_as_the_wrong_type():
    assert refusal(picture(fmt="GIF"), "p.gif").code == "image_type"


def test_a_file_that_is_not_an_image_is_refused():
    assert refusal(b"%PDF-1.7 not a picture at all", "photo.jpg").code == "image_invalid"


def test_a_truncated_jpeg_is_refused_before_it_reaches_a_thumbnail():
    whole = picture(1200, 1200, fmt="JPEG", color="#123456")
    assert refusal(whole[: len(whole) // 2], "cut.jpg").code == "image_invalid"


def test_a_file_over_the_size_limit_is_refused(settings):
    settings.PRODUCT_IMAGE_MAX_BYTES = 10_000
    err = refusal(picture(1000, 1000, fmt="PNG", mode="RGB", color="#000000") + b"\0" * 10_000)
    assert err.code == "image_too_large"


def test_too_small_and_too_large_pictures_are_refused():
    assert refusal(picture(120, 600)).code == "image_dimensions"
    assert refusal(picture(5000, 300)).code == "image_dimensions"


@pytest.mark.parametrize("side", [10_000, 40_000])
def test_a_png_decompression_bomb_is_refused_without_being_inflated(side):
    # 10,000² is past Pillow's warning threshold; 40,000² past its hard limit. Both are small files.
    bomb = png_bomb(side, side)
    assert len(bomb) < 1_000_000
    assert refusal(bomb, "bomb.png").code in {"image_dimensions", "image_bomb"}


def test_an_already_stored_photo_is_not_checked_again(media):
    product = ProductFactory()
    give_photo(product)
    product.refresh_from_db()
    product.image.storage.delete(product.image.name)  # would fail to open if it were read again
    validate_photo(product.image)


# ----- the merchant's product form -----


@pytest.fixture
def staff_client(client, merchant, sku):
    client.force_login(merchant)
    return client


def product_form(product, image=None) -> dict:
    data = {
        "shop": product.shop_id,
        "category": product.category_id,
        "title": product.title,
        "description": "",
        "on_sale": "on",
        "skus-TOTAL_FORMS": "0",
        "skus-INITIAL_FORMS": "0",
        "skus-MIN_NUM_FORMS": "0",
        "skus-MAX_NUM_FORMS": "1000",
    }
    if image is not None:
        data["image"] = image
    return data


def change_url(product) -> str:
    return f"/merchant/shops/product/{product.pk}/change/"


def test_the_merchant_uploads_a_photo_and_every_page_shows_it(staff_client, sku, media, client):
    product = sku.product
    response = staff_client.post(change_url(product), product_form(product, upload(picture(fmt="JPEG"), "scarf.jpg")))
    assert response.status_code == 302, response.content.decode()[:2000]
    product.refresh_from_db()
    assert product.image.name.startswith("products/") and product.image.name.endswith(".jpg")
    assert "scarf" not in product.image.name  # the merchant's file name never reaches a URL

    page = client.get(f"/products/{product.pk}/").content.decode()
    assert product.large_url in page
    assert fetch_image(client, product.large_url).format == "JPEG"
    home = client.get("/").content.decode()
    assert product.tile_url in home
    assert fetch_image(client, product.tile_url).size == (480, 480)
    assert product.tile_url in staff_client.get(change_url(product)).content.decode()  # the form's preview


@pytest.mark.parametrize(
    "data, name",
    [
        (b"just some text", "notes.txt"),
        (picture(fmt="GIF"), "anim.gif"),
        (png_bomb(40_000, 40_000), "bomb.png"),
        (png_bomb(10_000, 10_000), "bomb.png"),
        (picture(100, 100), "tiny.png"),
    ],
)
def test_a_bad_upload_is_a_field_error_on_the_form_never_a_500(staff_client, sku, media, data, name):
    product = sku.product
    response = staff_client.post(change_url(product), product_form(product, upload(data, name)))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["image"]
    product.refresh_from_db()
    assert not product.image
    assert not any(media.rglob("*.*")) if media.exists() else True


def test_the_merchant_form_shows_the_upload_field(staff_client, sku):
    body = staff_client.get(change_url(sku.product)).content.decode()
    assert 'type="file" name="image"' in body and 'enctype="multipart/form-data"' in body


# ----- sizes, per-款式 photos and the API -----


def test_a_sku_photo_is_its_own_and_falls_back_to_the_product_photo(media):
    product = ProductFactory()
    give_photo(product)
    own, plain = SkuFactory(product=product), SkuFactory(product=product)
    give_photo(own, color="#8e44ad")
    assert own.thumb_url != product.tile_url and "/skus/" in own.thumb_url
    assert plain.thumb_url == product.tile_url
    assert SkuFactory(product=ProductFactory()).thumb_url == ""


def test_the_api_keeps_image_and_adds_absolute_photo_urls(api, media, sku, client):
    give_photo(sku.product)
    listed = api.get("/api/v1/products/").json()["results"][0]
    assert listed["image"] == sku.product.image.name
    assert listed["image_url"].startswith("http://testserver/media/")
    assert listed["thumbnail_url"].startswith("http://testserver/media/")
    detail = api.get(f"/api/v1/products/{sku.product.pk}/").json()
    assert detail["skus"][0]["image_url"] == listed["thumbnail_url"]
    assert fetch_image(client, detail["image_url"]).format == "JPEG"


def test_a_product_without_photo_has_empty_photo_fields_and_a_placeholder(api, sku, client):
    listed = api.get("/api/v1/products/").json()["results"][0]
    assert listed["image"] == "" and listed["image_url"] == "" and listed["thumbnail_url"] == ""
    assert "img/giftbox.svg" in client.get(f"/products/{sku.product.pk}/").content.decode()


def test_the_migration_clears_the_old_static_paths():
    migration = importlib.import_module("shops.migrations.0006_product_photos")
    old = ProductFactory()
    Product.objects.filter(pk=old.pk).update(image="img/tea.svg")
    from django.apps import apps

    migration.clear_static_paths(apps, None)
    old.refresh_from_db()
    assert old.image.name == ""


def test_the_demo_catalogue_has_drawn_photos_for_every_product(media, client):
    from django.core.management import call_command

    call_command("load_demo", verbosity=0)
    products = list(Product.objects.all())
    assert products and all(p.image for p in products)
    scarf = Product.objects.get(title="羊绒围巾")
    assert all(s.image for s in scarf.skus.all())
    img = fetch_image(client, scarf.tile_url)
    # a picture, not a flat fill
    assert img.size == (480, 480) and len(set(img.convert("RGB").get_flattened_data())) > 50
    names = {p.image.name for p in products}
    call_command("load_demo", verbosity=0)  # twice: nothing redrawn
    assert {p.image.name for p in Product.objects.all()} == names
