"""Money: starting payments, settling what the provider reports, refunds, and the operators' payment views."""
