"""Declaring paid orders to customs and following them to release (docs/architecture.md, rule 8).

* :mod:`.opening` - a declaration is opened in the transaction that marks its order paid.
* :mod:`.declaring` - the worker sends the four documents (order, payment voucher via the payment
  company, waybill via the carrier, signed inventory list), resuming where a failure stopped it.
* :mod:`.receipts` - the worker reads customs' receipts and moves declarations forward.
* :mod:`.fulfilment` - released parcels ship; rejected ones not fixed in time are refunded.
* :mod:`.operator` - what compliance officers see and do: list, open, download, re-declare.

The SQL is in the repositories ``flashport.adapters.db.declarations_repo`` (the declarations, their
queue and moves), ``declared_orders_repo`` (what is declared), ``customs_messages_repo`` and
``customs_receipts_repo``; the messages themselves are built by the codec, :mod:`flashport.ceb`.
"""
