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
"""

import hashlib
from functools import cache as memoize

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS
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
    def authenticate_credentials(self, key):
        cache_key = _cache_key(key)
        user = _account(cache.get(cache_key))
        if user is not None:
            token = self.get_model().from_db(DEFAULT_DB_ALIAS, ("key", "user_id"), (key, user.pk))
            token.user = user
            return user, token
        user, token = super().authenticate_credentials(key)  # 401 for an unknown key or an inactive account
        cache.set(cache_key, _entry(user), settings.API_TOKEN_CACHE_SECONDS)
        return user, token


def tokens_remember(accounts: dict) -> None:
    """Cache {token key: account} as a first authenticated request would (bench set-ups)."""
    entries = {_cache_key(key): _entry(user) for key, user in accounts.items()}
    cache.set_many(entries, settings.API_TOKEN_CACHE_SECONDS)


def _cache_key(key: str) -> str:
    return "api-token:" + hashlib.sha256(key.encode()).hexdigest()[:40]


def token_forget(sender, instance, **kwargs):
    """post_delete and post_save of a Token: its account is no longer known by it."""
    cache.delete(_cache_key(instance.key))


def account_forget(sender, instance, **kwargs):
    """post_save of an account: the entries of its tokens are stale."""
    from rest_framework.authtoken.models import Token

    keys = Token.objects.filter(user_id=instance.pk).values_list("key", flat=True)
    cache.delete_many([_cache_key(key) for key in keys])
