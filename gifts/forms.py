from django import forms

from .models import Gift


class CheckoutForm(forms.Form):
    sku_id = forms.IntegerField(widget=forms.RadioSelect)
    quantity = forms.IntegerField(label="每人份数", min_value=1, initial=1)
    mode = forms.ChoiceField(
        label="送给", choices=Gift.Mode.choices, initial=Gift.Mode.SINGLE, widget=forms.RadioSelect
    )
    recipients = forms.IntegerField(label="群发人数", min_value=1, initial=1, required=False)
    recipient_username = forms.CharField(
        label="指定朋友的用户名（选填，只有 TA 能收下）", max_length=150, required=False
    )
    message = forms.CharField(
        label="祝福语",
        max_length=200,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "新年快乐，万事如意！"}),
    )
    allow_sku_choice = forms.BooleanField(label="允许朋友换成同价位的其他款式", required=False)
    expected_price_fen = forms.IntegerField(widget=forms.HiddenInput, required=False)


class AddressForm(forms.Form):
    name = forms.CharField(label="收件人", max_length=30)
    phone = forms.CharField(label="手机号", max_length=20, widget=forms.TextInput(attrs={"inputmode": "tel"}))
    province = forms.CharField(label="省份", max_length=32)
    city = forms.CharField(label="城市", max_length=32)
    district = forms.CharField(label="区县", max_length=32, required=False)
    detail = forms.CharField(label="详细地址", max_length=120)
    sku_id = forms.IntegerField(required=False)
    save_address = forms.BooleanField(label="保存到我的地址簿", required=False)


class ThanksForm(forms.Form):
    thanks = forms.CharField(
        label="答谢", max_length=200, widget=forms.TextInput(attrs={"placeholder": "谢谢你的礼物！"})
    )
