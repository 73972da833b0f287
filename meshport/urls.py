from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from meshport.access import PortalLoginView

urlpatterns = [
    path("login/", PortalLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/v1/", include("lineage.api_urls")),
    path("api/v1/", include("lineage.marquez_urls")),
    path("api/v1/", include("governance.api_urls")),
    path("api/v1/", include("catalog.api_urls")),
    path("api-auth/", include("rest_framework.urls")),
    path("lineage/", include("lineage.urls")),
    path("governance/", include("governance.urls")),
    path("", include("catalog.urls")),
]
