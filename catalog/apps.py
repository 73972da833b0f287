from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from catalog import schema  # noqa: F401  (registers the OpenAPI auth extension)
        from catalog.search import sources  # noqa: F401  (registers the catalog's documents)
