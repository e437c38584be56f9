"""The project as an app: its operator commands (stuck_work) and its system checks."""

import re
from pathlib import Path

from axes.apps import AppConfig as AxesAppConfig
from django.apps import AppConfig, apps
from django.utils.translation import gettext_lazy

CJK = re.compile(r"[\u4e00-\u9fff]")


def project_apps() -> set[str]:
    """The project's own apps (the ones in this checkout), as opposed to Django's and the packages'."""
    root = Path(__file__).resolve().parent.parent
    return {config.name for config in apps.get_app_configs() if Path(config.path).resolve().parent == root}


def _plural(name: str) -> str:
    if name.endswith("y"):
        return name[:-1] + "ies"
    return name + ("es" if name.endswith("s") else "s")


def names_through_the_catalogue() -> None:
    """A field or model given no verbose_name is named by Django from its attribute ("amount fen").
    Route those names through gettext so the operator admin shows them in the page's language
    (locale/zh_Hans holds the Chinese). Only the runtime name changes: migrations read the
    declared value, so none is needed."""
    ours = project_apps()
    for model in apps.get_models():
        opts = model._meta
        if opts.app_config.name not in ours:
            continue
        for field in opts.get_fields():
            if isinstance(getattr(field, "verbose_name", None), str):  # plain text, never looked up
                field.verbose_name = gettext_lazy(field.verbose_name)
        if isinstance(opts.verbose_name, str):
            singular = opts.verbose_name
            opts.verbose_name = gettext_lazy(singular)
            if "verbose_name_plural" not in opts.original_attrs:
                opts.verbose_name_plural = gettext_lazy(singular if CJK.search(singular) else _plural(singular))
        if isinstance(opts.verbose_name_plural, str):
            opts.verbose_name_plural = gettext_lazy(opts.verbose_name_plural)


class GiftshopConfig(AppConfig):
    name = "giftshop"
    default = True  # the config of "giftshop" (this module holds another, for django-axes)
    verbose_name = "Giftshop"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save
        from rest_framework.authtoken.models import Token

        from . import checks  # noqa: F401  (registers the system checks; Django's place for it)
        from .token_auth import account_forget, token_forget

        post_delete.connect(token_forget, sender=Token, dispatch_uid="api-token-forget")
        post_save.connect(token_forget, sender=Token, dispatch_uid="api-token-forget-save")
        post_save.connect(account_forget, sender=get_user_model(), dispatch_uid="api-account-forget")
        names_through_the_catalogue()


class LockoutConfig(AxesAppConfig):
    """django-axes (failed sign-ins and lockout) as the operator admin names it: in the page's
    language, not "AXES" and "access attempts"."""

    verbose_name = gettext_lazy("登录锁定")
    MODEL_NAMES = {
        "accessattempt": (gettext_lazy("登录失败计数"), gettext_lazy("登录失败计数")),
        "accessfailurelog": (gettext_lazy("登录失败记录"), gettext_lazy("登录失败记录")),
        "accesslog": (gettext_lazy("登录记录"), gettext_lazy("登录记录")),
        "accessattemptexpiration": (gettext_lazy("锁定到期时间"), gettext_lazy("锁定到期时间")),
    }

    def ready(self):
        super().ready()
        for model in self.get_models():
            names = self.MODEL_NAMES.get(model._meta.model_name)
            if names:
                model._meta.verbose_name, model._meta.verbose_name_plural = names
