"""The token check every API request makes: DRF's token authentication without a database query.

The account behind a token is kept in the shared cache for `API_TOKEN_CACHE_SECONDS` and dropped
from it whenever the token is deleted (sign-out, rotation, account deletion) or the account is
saved (deactivated, password changed): `token_forget` and `account_forget`, connected in
giftshop.apps. Imported by DRF's settings before the apps are ready: no model at import time.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache
from rest_framework.authentication import TokenAuthentication


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        cache_key = _cache_key(key)
        user = cache.get(cache_key)
        if user is not None:
            return user, self.get_model()(key=key, user=user)
        user, token = super().authenticate_credentials(key)  # 401 for an unknown key or an inactive account
        cache.set(cache_key, user, settings.API_TOKEN_CACHE_SECONDS)
        return user, token


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
