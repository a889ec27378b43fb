"""user_service: accounts, passwords, roles, tokens. Owns the ``users`` schema."""
