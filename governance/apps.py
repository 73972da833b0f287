from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self) -> None:
        # Catalog calls us through its hook and panel registries: it never imports us.
        from catalog.hooks import register_product_saved
        from catalog.panels import register_dataset_panel, register_product_panel
        from governance import scorecard_views, services, slo_views

        register_product_saved(services.on_product_saved)
        register_product_panel(slo_views.product_panel)
        register_product_panel(scorecard_views.product_panel)
        register_dataset_panel(slo_views.dataset_panel)
