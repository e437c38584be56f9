"""The shop's sign-in pages; django-allauth's own pages are included after these (giftshop/urls.py)."""

from allauth.account import views as allauth_views
from django.urls import path
from django.views.generic import RedirectView

from . import views

urlpatterns = [
    path("accounts/login/", views.phone_login, name="login"),
    # The first code makes the account: signing up is signing in with a phone number.
    path("accounts/signup/", RedirectView.as_view(pattern_name="login", query_string=True), name="signup"),
    path("accounts/password/login/", allauth_views.LoginView.as_view(), name="password-login"),
    path("accounts/logout/", allauth_views.LogoutView.as_view(), name="logout"),
    path("accounts/phone/status/", views.phone_code_status, name="phone-code-status"),
]
