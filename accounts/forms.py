"""The phone sign-in forms of the pages; the rules themselves are in accounts/services."""

from django import forms
from django.utils.translation import gettext_lazy as _


class PhoneForm(forms.Form):
    phone = forms.CharField(
        label=_("手机号"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"inputmode": "tel", "autocomplete": "tel", "placeholder": _("11 位手机号"), "maxlength": 20}
        ),
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("验证码"),
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "placeholder": _("6 位数字"),
                "maxlength": 6,
                "pattern": "[0-9]*",
            }
        ),
    )
