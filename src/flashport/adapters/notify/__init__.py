"""The notifier's outside systems: e-mail over SMTP, SMS behind an interface (a recording sandbox
here), and the message templates rendered in the buyer's language."""
