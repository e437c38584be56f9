"""A recipient's rights over their personal data: download it, delete saved addresses, delete the account."""

import json

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext, gettext_noop

from privacy.services import account_delete, account_export

CONFIRM_WORD = gettext_noop("注销")


@login_required
def account_data(request):
    user = request.user
    if request.GET.get("download"):
        body = json.dumps(account_export(user=user), ensure_ascii=False, indent=2)
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="giftshop-{user.username}.json"'
        return response
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "delete_address":
            address_id = request.POST.get("address_id", "")
            address_id = int(address_id) if address_id.isdigit() and len(address_id) < 18 else 0
            deleted, _ = user.saved_addresses.filter(pk=address_id).delete()
            messages.success(request, gettext("地址已删除") if deleted else gettext("没有找到这条地址"))
            return redirect("account-data")
        if action == "delete":
            # The word 注销 (in the page's language) confirms; a phone account's username is generated,
            # nobody should have to copy it. The username itself is still accepted.
            if request.POST.get("confirm", "").strip() not in (gettext(CONFIRM_WORD), user.username):
                messages.error(request, gettext("请输入「%(word)s」以确认注销") % {"word": gettext(CONFIRM_WORD)})
                return redirect("account-data")
            account_delete(user=user)
            logout(request)
            messages.success(request, gettext("账号已注销。仍在运输中的包裹会在签收后删除地址。"))
            return redirect("home")
    return render(
        request,
        "gifts/account_data.html",
        {"addresses": list(user.saved_addresses.all()), "confirm_word": gettext(CONFIRM_WORD)},
    )
