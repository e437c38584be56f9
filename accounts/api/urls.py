from django.urls import path

from . import views

urlpatterns = [
    path("auth/phone/code/", views.PhoneCode.as_view(), name="api-phone-code"),
    path("auth/phone/login/", views.PhoneLogin.as_view(), name="api-phone-login"),
]
