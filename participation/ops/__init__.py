"""Running in production: readiness, Prometheus metrics and structured, redacted logs."""
