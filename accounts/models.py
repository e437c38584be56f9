"""A verified mainland mobile number per account, and the one-time sign-in codes sent to numbers.

A code is never stored: the worker that sends the SMS derives it from the row and the server secret
(HMAC), and the row keeps only a keyed hash of it to compare with what the person types."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Phone(models.Model):
    """The account's mobile number (django-allauth's phone storage: accounts/adapter.py)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="phone")
    number = models.CharField("手机号", max_length=11, unique=True)
    verified = models.BooleanField("已验证", default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = verbose_name_plural = "手机号"

    def __str__(self) -> str:
        return f"{self.number[:3]}****{self.number[-4:]}"


class PhoneCode(models.Model):
    """One code sent to one number. `sent_at` is set by the worker once the SMS provider took it."""

    phone = models.CharField(max_length=11)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["phone", "-created_at"], name="phonecode_phone_recent")]
        verbose_name = verbose_name_plural = "验证码"

    def __str__(self) -> str:
        return f"code #{self.pk}"
