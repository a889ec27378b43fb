"""notification_service: in-app notifications, email deliveries and their retries, and a
replica of users' contact data. Owns the ``notifications`` schema."""
