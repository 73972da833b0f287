from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from meshport.access import PortalLoginView

# One door for passwords: the admin's and the browsable API's login pages send people to
# the portal's, which throttles failed attempts (meshport.access.PortalLoginView).
portal_login = RedirectView.as_view(pattern_name="login", query_string=True)

urlpatterns = [
    path("login/", PortalLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("admin/login/", portal_login),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file of its own, which the
    # Content-Security-Policy (meshport.security) lets run; an inline one it would block.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/v1/", include("lineage.api_urls")),
    path("api/v1/", include("lineage.marquez_urls")),
    path("api/v1/", include("governance.api_urls")),
    path("api/v1/", include("catalog.api_urls")),
    path("api-auth/login/", portal_login),
    path("api-auth/", include("rest_framework.urls")),
    path("lineage/", include("lineage.urls")),
    path("governance/", include("governance.urls")),
    path("", include("catalog.urls")),
]
