"""Parcel tracking (issue 18, point 2): each shipment's milestones, from customs' declaration to the
buyer's door (:mod:`flashport.domain.tracking`).

* :mod:`.milestones` - record a milestone in the caller's transaction (once, with its outbox events),
  take a carrier's report, and show a shipment to its buyer.
"""
