"""The storefront's routes, one module per part of the buyer's journey."""
