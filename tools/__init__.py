"""Running the platform: embedded (``make run``), local distributed (``make up``), test set-up."""
