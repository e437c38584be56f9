"""The token check every API request makes: DRF's token authentication without a database query.

The account behind a token is kept in the shared cache for `API_TOKEN_CACHE_SECONDS` and dropped
from it whenever the token is deleted (sign-out, rotation, account deletion) or the account is
saved (deactivated, password changed): `token_forget` and `account_forget`, connected in
giftshop.apps. Imported by DRF's settings before the apps are ready: no model at import time.

What is cached is the account's row as plain values (its columns but the password hash, which stays
in the database and is read from there if anything asks), and the account is rebuilt the way the ORM
builds a row it loaded: a few microseconds, where unpickling a model instance cost several times that
on every API request. The entry names the columns it holds, so a process with another version of the
model (a rolling deploy) reads it as a miss instead of misreading it.

Beside the entry, the account's id alone (`_names`): a plain number in Redis (django-redis stores an
int as it is), so that a script on the same Redis can tell whose token it is. The group grab asks its
gate that way, in the same round trip as the token (`token_redis_keys`, `gifts.services.grab`).
"""

import hashlib
from functools import cache as memoize

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache, caches
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils.translation import gettext_lazy as _
from django_redis.cache import RedisCache
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

_NOT_CACHED = frozenset({"password"})


@memoize
def _columns() -> tuple[str, tuple[str, ...]]:
    """(signature, attribute names) of the cached columns, in the model's order (as `from_db` wants)."""
    names = tuple(f.attname for f in get_user_model()._meta.concrete_fields if f.attname not in _NOT_CACHED)
    return hashlib.sha256(",".join(names).encode()).hexdigest()[:8], names


def _entry(user) -> tuple:
    signature, names = _columns()
    return signature, tuple(getattr(user, name) for name in names)


def _account(entry):
    """The account an entry describes, or None when it was written for other columns."""
    signature, names = _columns()
    if not isinstance(entry, tuple) or len(entry) != 2 or entry[0] != signature:
        return None
    return get_user_model().from_db(DEFAULT_DB_ALIAS, names, entry[1])


class CachedTokenAuthentication(TokenAuthentication):
    """A view may answer for a token itself, with the account and whatever else it asked Redis in the
    same round trip: `token_account(key)` returning the account, or None to go on the usual way."""

    view = None

    def authenticate(self, request):
        self.view = (request.parser_context or {}).get("view")
        return super().authenticate(request)

    def authenticate_credentials(self, key):
        answer = getattr(self.view, "token_account", None)
        user = answer(key) if answer is not None else None
        if user is not None:
            return user, self.token_of(key, user)
        user = _account(_cached_entry(key))
        if user is not None:
            return user, self.token_of(key, user)
        user, token = super().authenticate_credentials(key)  # 401 for an unknown key or an inactive account
        tokens_remember({key: user})
        # A sign-out that committed between the read above and this write would find the cache empty and
        # leave the token working for API_TOKEN_CACHE_SECONDS: look once more, now that it is written
        # (a sign-out after this look deletes what was written, once it commits).
        if not self.get_model().objects.filter(key=key).exists():
            _forget(_both_keys([key]))
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        return user, token

    def token_of(self, key: str, user):
        """The token as DRF hands it to the view (request.auth), without reading it."""
        token = self.get_model().from_db(DEFAULT_DB_ALIAS, ("key", "user_id"), (key, user.pk))
        token.user = user
        return token


def _cached_entry(key: str):
    """A token's cache entry; None when there is none or it cannot be read (written by a process with
    another serializer in a rolling deploy, or corrupt): a miss, which the database answers."""
    try:
        return cache.get(_cache_key(key))
    except Exception:  # noqa: BLE001 (unpickling can raise nearly anything)
        return None


def tokens_remember(accounts: dict) -> None:
    """Cache {token key: account}, as a first authenticated request does (and bench set-ups)."""
    entries = {}
    for key, user in accounts.items():
        entry_name, id_name = _names(key)
        entries[entry_name] = _entry(user)
        entries[id_name] = user.pk
    cache.set_many(entries, settings.API_TOKEN_CACHE_SECONDS)


def _names(key: str) -> tuple[str, str]:
    """A token's two cache keys: its entry's and its account id's (one hash of the token for both)."""
    hashed = hashlib.sha256(key.encode()).hexdigest()[:40]
    return "api-token:" + hashed, "api-token-id:" + hashed


def _cache_key(key: str) -> str:
    return _names(key)[0]


def _both_keys(keys) -> list[str]:
    return [name for key in keys for name in _names(key)]


def token_redis_keys(key: str) -> tuple[str, str] | None:
    """(the account id's key, the entry's key) of a token as they are named in the shared cache's
    Redis, for a script that reads them there; None when the shared cache is not a Redis."""
    shared = caches["default"]
    if not isinstance(shared, RedisCache):
        return None
    entry_name, id_name = _names(key)
    return str(shared.client.make_key(id_name)), str(shared.client.make_key(entry_name))


def account_from_redis(raw: bytes):
    """The account in an entry a script read from the shared cache's Redis (`token_redis_keys`), or
    None when it was written for other columns."""
    try:
        return _account(caches["default"].client.decode(raw))
    except Exception:  # noqa: BLE001 (an entry this process cannot read: another serializer, corrupt): a miss
        return None


def _forget(names: list[str]) -> None:
    """Now, and again once the change commits: a request that read the old row before the commit may
    have cached it meanwhile."""
    cache.delete_many(names)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: cache.delete_many(names), robust=True)


def token_forget(sender, instance, **kwargs):
    """post_delete and post_save of a Token: its account is no longer known by it."""
    _forget(_both_keys([instance.key]))


def account_forget(sender, instance, **kwargs):
    """post_save of an account: the entries of its tokens are stale."""
    from rest_framework.authtoken.models import Token

    keys = Token.objects.filter(user_id=instance.pk).values_list("key", flat=True)
    _forget(_both_keys(keys))
