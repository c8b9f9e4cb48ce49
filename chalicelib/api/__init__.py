"""REST API layer: request/response models, validation, two-tier cache, queries, OpenAPI and docs."""
