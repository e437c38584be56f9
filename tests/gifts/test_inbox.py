"""The inbox page: a notice opened from it is read, and leads where its link says."""

import pytest

from gifts.models import Notification
from gifts.services.notifications import notify

pytestmark = pytest.mark.django_db


def _note(user, key: str, link: str) -> Notification:
    return notify(user=user, kind=Notification.Kind.REMINDER, dedupe_key=key, title="提醒", link=link)


def test_opening_a_notice_marks_it_read_and_follows_its_link(client, recipient):
    opened = _note(recipient, "a", "/received/")
    other = _note(recipient, "b", "/received/")
    client.force_login(recipient)
    page = client.get("/inbox/").content.decode()
    assert f'href="/inbox/{opened.pk}/"' in page
    r = client.get(f"/inbox/{opened.pk}/")
    assert r.status_code == 302 and r["Location"] == "/received/"
    opened.refresh_from_db(), other.refresh_from_db()
    assert opened.read_at is not None and other.read_at is None


def test_another_account_s_notice_is_not_found_and_stays_unread(client, recipient, other):
    note = _note(recipient, "a", "/received/")
    client.force_login(other)
    assert client.get(f"/inbox/{note.pk}/").status_code == 404
    note.refresh_from_db()
    assert note.read_at is None


def test_a_link_off_the_site_is_not_followed(client, recipient):
    note = _note(recipient, "a", "https://evil.example.com/")
    client.force_login(recipient)
    r = client.get(f"/inbox/{note.pk}/")
    assert r.status_code == 302 and r["Location"] == "/inbox/"


def test_notices_written_before_they_named_the_gift_still_read_in_english():
    from gifts.templatetags.notices import in_language

    assert in_language("你收下的礼物已发货", "en") == "Your gift has shipped"
    assert in_language("你送出的礼物已发货：围巾", "en") == "The gift you sent has shipped: 围巾"
