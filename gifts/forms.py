"""The checkout and address forms of the pages; the rules themselves are in the services."""

from django import forms
from django.utils.translation import gettext_lazy as _

from gifts.models import Gift


class CheckoutForm(forms.Form):
    sku_id = forms.IntegerField(widget=forms.RadioSelect)
    quantity = forms.IntegerField(
        label=_("每人份数"), min_value=1, initial=1, error_messages={"min_value": _("每人至少 1 件")}
    )
    mode = forms.ChoiceField(
        label=_("送给"),
        choices=[(m.value, m.label) for m in (Gift.Mode.SINGLE, Gift.Mode.GROUP)],
        initial=Gift.Mode.SINGLE,
        widget=forms.RadioSelect,
    )
    recipients = forms.IntegerField(label=_("群发人数"), min_value=1, initial=2, required=False)  # a group is 2 or more
    recipient_username = forms.CharField(
        label=_("指定朋友的手机号或用户名（选填，只有 TA 能收下）"), max_length=150, required=False
    )
    message = forms.CharField(
        label=_("祝福语"),
        max_length=200,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": _("新年快乐，万事如意！")}),
    )
    allow_sku_choice = forms.BooleanField(label=_("允许朋友换成同价位的其他款式"), required=False)
    expected_price_fen = forms.IntegerField(widget=forms.HiddenInput, required=False)


class AddressForm(forms.Form):
    """The address fields are checked by the claim service (`address_validate`), which says what is
    missing in words of its own ("请选择区县") for every field at once; a field left empty here is not
    a form error of its own, which would only say 该字段是必填项 and hide the service's message."""

    name = forms.CharField(label=_("收件人"), max_length=30, required=False)
    phone = forms.CharField(
        label=_("手机号"), max_length=20, required=False, widget=forms.TextInput(attrs={"inputmode": "tel"})
    )
    province = forms.CharField(label=_("省份"), max_length=32, required=False)
    city = forms.CharField(label=_("城市"), max_length=32, required=False)
    district = forms.CharField(label=_("区县"), max_length=32, required=False)
    detail = forms.CharField(label=_("详细地址"), max_length=120, required=False)
    sku_id = forms.IntegerField(required=False)
    save_address = forms.BooleanField(label=_("保存到我的地址簿"), required=False)


class ThanksForm(forms.Form):
    thanks = forms.CharField(
        label=_("答谢"), max_length=200, widget=forms.TextInput(attrs={"placeholder": _("谢谢你的礼物！")})
    )
