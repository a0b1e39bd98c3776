"""The recommendation API: app factory, routes, schemas, authentication and its durable state."""
