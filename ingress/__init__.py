"""Ingress: verified webhooks into Kafka, acknowledged only once durable."""
