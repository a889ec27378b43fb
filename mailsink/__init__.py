"""A local SMTP sink for development and tests: catches every email and shows it at
``/mailbox`` (HTML) and ``GET /api/mailbox`` (JSON). Not part of the product's services."""
