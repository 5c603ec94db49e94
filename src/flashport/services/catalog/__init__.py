"""The catalog operators and suppliers curate: brands, suppliers, warehouses, products, SKUs and stock."""
