from django.urls import path

from governance import my_views, slo_views, views, webhook_views

app_name = "governance"

urlpatterns = [
    path("", views.index, name="index"),
    path("my/", my_views.my_data, name="my-data"),
    path("slos/", slo_views.slos, name="slos"),
    path("slos/<int:pk>/", slo_views.slo_detail, name="slo-detail"),
    path("webhooks/", webhook_views.webhooks, name="webhooks"),
    path("webhooks/<int:pk>/", webhook_views.webhook_detail, name="webhook-detail"),
]
