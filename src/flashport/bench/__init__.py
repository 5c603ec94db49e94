"""The record benchmark: ``flashport bench`` sells one item to many buyers over HTTP and proves nothing was
oversold; ``flashport loadcheck`` measures the load generator itself against a trivial endpoint.

Kept out of the server's import graph: nothing here is imported by the API or the workers.
"""
