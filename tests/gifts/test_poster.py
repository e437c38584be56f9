"""The share poster: a PNG of the blue card with the QR code of the claim link, for the sender only."""

import io

import pytest
from PIL import Image

from gifts import poster
from tests.photos import give_photo

pytestmark = pytest.mark.django_db


def poster_of(client, gift):
    return client.get(f"/gifts/{gift.pk}/poster.png")


def test_the_sender_gets_a_png_poster_of_the_expected_size_with_cache_headers(client, make_gift, sender, sku, media):
    give_photo(sku.product, color="#27ae60")
    gift = make_gift(mode="single", recipients=1, message="生日快乐，愿你每天都开心！")
    client.force_login(sender)
    response = poster_of(client, gift)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert "private" in response["Cache-Control"] and "max-age=3600" in response["Cache-Control"]
    img = Image.open(io.BytesIO(response.content))
    assert img.format == "PNG" and img.size == (poster.WIDTH, poster.HEIGHT)
    # The product photo (flat green here) is in the middle of the card.
    pixel = img.convert("RGB").getpixel((poster.WIDTH // 2, 700))
    assert all(abs(a - b) <= 6 for a, b in zip(pixel, (0x27, 0xAE, 0x60), strict=True))  # JPEG-sized photo


def test_the_poster_is_refused_to_anyone_but_the_sender(client, make_gift, recipient):
    gift = make_gift(mode="single", recipients=1)
    client.force_login(recipient)
    assert poster_of(client, gift).status_code == 404
    client.logout()
    assert poster_of(client, gift).status_code == 302  # to the sign-in page


def test_an_unpaid_gift_has_no_poster(client, make_gift, sender):
    gift = make_gift(paid=False, mode="single", recipients=1)
    client.force_login(sender)
    assert poster_of(client, gift).status_code == 404


def test_the_sender_pages_offer_the_poster(client, make_gift, sender):
    gift = make_gift(mode="single", recipients=1)
    client.force_login(sender)
    for page in (f"/gifts/{gift.pk}/card/", f"/gifts/{gift.pk}/"):
        body = client.get(page).content.decode()
        assert f'href="/gifts/{gift.pk}/poster.png"' in body and "保存分享海报" in body


def test_the_qr_code_on_the_poster_carries_the_claim_link(client, make_gift, sender):
    """Cut the QR code out and compare it with the claim link's own code, module by module."""
    import qrcode

    gift = make_gift(mode="single", recipients=1)
    client.force_login(sender)
    img = Image.open(io.BytesIO(poster_of(client, gift).content)).convert("L")
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2, box_size=1)
    qr.add_data(f"http://testserver{gift.claim_path()}")
    qr.make(fit=True)
    matrix = qr.get_matrix()  # with the border
    n, side, left, top = len(matrix), 170, 70, poster.HEIGHT - 250 + 20
    for r in range(n):
        for c in range(n):
            x, y = left + int((c + 0.5) * side / n), top + int((r + 0.5) * side / n)
            assert (img.getpixel((x, y)) < 128) == matrix[r][c], (r, c)


def test_without_a_cjk_font_the_poster_still_renders(settings, monkeypatch):
    settings.POSTER_FONT_PATH = "/nonexistent/font.ttc"
    monkeypatch.setattr(poster, "FONT_CANDIDATES", ())
    poster.font_path.cache_clear()
    try:
        png = poster.poster_png(
            sender_name="alice",
            message="生日快乐",
            product_title="羊绒围巾",
            sku_label="藏青",
            photo=None,
            claim_url="http://testserver/c/abc/",
        )
    finally:
        poster.font_path.cache_clear()
    assert Image.open(io.BytesIO(png)).size == (poster.WIDTH, poster.HEIGHT)
