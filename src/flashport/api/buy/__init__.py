"""The buy lanes: every way a purchase request reaches :func:`flashport.services.sales.buying.buy`."""
