"""The recipient's after-sales forms (rules are checked in services)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import AfterSalesRequest

R = AfterSalesRequest


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented recipe); each is checked in services."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)] if data else []


class AfterSalesForm(forms.Form):
    kind = forms.ChoiceField(label=_("售后类型"), choices=R.Kind.choices, widget=forms.RadioSelect)
    reason = forms.ChoiceField(label=_("原因"), choices=[("", _("请选择")), *R.Reason.choices])
    detail = forms.CharField(
        label=_("补充说明"),
        max_length=500,
        required=False,
        widget=forms.Textarea({"rows": 3, "placeholder": _("例如：外包装破损，杯子有裂纹")}),
    )
    photos = MultipleFileField(
        label=_("照片（最多 3 张）"),
        required=False,
        widget=MultipleFileInput({"accept": "image/jpeg,image/png,image/webp"}),
    )


class ReturnShipmentForm(forms.Form):
    carrier = forms.CharField(label=_("快递公司"), max_length=40)
    tracking_no = forms.CharField(label=_("运单号"), max_length=40)
