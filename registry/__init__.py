"""The shared registry: administrative divisions, facility types and facilities."""
