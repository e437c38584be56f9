"""Fast-forward in the operator's /admin/ (only while the sandbox is enabled): on a gift, 「立即过期」
and, for a lottery, 「立即开奖」. Registered from here because nothing may import the sandbox: the
gift admin of `gifts` is replaced by a subclass that adds the two buttons."""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from gifts.admin import GiftAdmin
from gifts.models import Gift
from giftshop.errors import AppError
from sandbox.fast_forward import gift_expire_now, lottery_draw_now

ACTIONS = {"expire": gift_expire_now, "draw": lottery_draw_now}


class FastForwardGiftAdmin(GiftAdmin):
    change_form_template = "admin/sandbox/gift_change_form.html"

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_fast_forward"
        view = self.admin_site.admin_view(require_POST(self.fast_forward_view))
        return [path("<path:object_id>/fast-forward/", view, name=name), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        gift = self.get_object(request, unquote(object_id))
        extra = {
            "fast_forward": settings.SANDBOX_ENABLED and gift is not None,
            "is_lottery": gift is not None and gift.mode == Gift.Mode.LOTTERY,
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra)

    def fast_forward_view(self, request, object_id):
        gift = self.get_object(request, unquote(object_id))
        step = ACTIONS.get(request.POST.get("step", ""))
        if not settings.SANDBOX_ENABLED or gift is None or not self.has_view_permission(request, gift) or not step:
            raise Http404
        try:
            messages.success(request, step(gift_id=gift.pk))
        except AppError as exc:
            messages.error(request, exc.detail)
        return HttpResponseRedirect(reverse("admin:gifts_gift_change", args=[gift.pk]))


admin.site.unregister(Gift)
admin.site.register(Gift, FastForwardGiftAdmin)
