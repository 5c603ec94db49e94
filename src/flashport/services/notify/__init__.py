"""Buyer notifications (issue 18): the notifier stages of the worker, preferences, sale reminders and
waitlists."""
