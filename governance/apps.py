from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self) -> None:
        # Catalog calls us through its hook and panel registries: it never imports us.
        from catalog.hooks import register_product_saved
        from governance import services

        register_product_saved(services.on_product_saved)
