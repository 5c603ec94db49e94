"""After-sales (issue 18, point 3): a buyer's return of a delivered parcel, approved by an operator,
declared to customs (CEB625) and refunded, with the annual quota, once customs takes it
(:mod:`flashport.domain.aftersales`).

* :mod:`.returns` - ask, approve, declare, and apply customs' answer (CEB626).
* :mod:`.cancellation` - a paid order called off before release: refunded at once, or, customs having
  accepted the inventory list, its withdrawal asked for.
* :mod:`.withdrawals` - declare that withdrawal (CEB623) and apply customs' answer (CEB624).
* :mod:`.declaring` - what the two share: leasing and declaring due rows with back-off, and finding the
  row each receipt answers.
"""
