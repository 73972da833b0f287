from django.urls import path

from catalog import ownership_views, product_views, search_views, token_views, views

app_name = "catalog"

# Product ids may hold "/" (``<path:...>``): the pages under a product come before the
# product itself, and ``upload/`` before both.
urlpatterns = [
    path("", views.home, name="home"),
    path("datasets/", views.datasets, name="datasets"),
    path("datasets/<int:pk>/", views.dataset_detail, name="dataset-detail"),
    path("search/", search_views.search, name="search"),
    path("tags/", search_views.tags, name="tags"),
    path("products/", product_views.products, name="products"),
    path("products/upload/", product_views.product_upload, name="product-upload"),
    path(
        "products/<path:external_id>/revisions/",
        product_views.product_revisions,
        name="product-revisions",
    ),
    path(
        "products/<path:external_id>/revisions/<int:number>/",
        product_views.product_revision,
        name="product-revision",
    ),
    path("products/<path:external_id>/diff/", product_views.product_diff, name="product-diff"),
    path("products/<path:external_id>/", product_views.product_detail, name="product-detail"),
    path("domains/", product_views.domains, name="domains"),
    path("domains/<slug:slug>/", product_views.domain_detail, name="domain-detail"),
    path("tokens/", token_views.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", token_views.token_revoke, name="token-revoke"),
    path("teams/", ownership_views.teams, name="teams"),
    path("teams/<int:pk>/", ownership_views.team_detail, name="team-detail"),
    path("ownerships/add/", ownership_views.ownership_add_view, name="ownership-add"),
    path(
        "ownerships/<int:pk>/remove/",
        ownership_views.ownership_remove_view,
        name="ownership-remove",
    ),
]
