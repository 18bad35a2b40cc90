"""One module per contract: S3 keys, meta.json, the queue message, platform events.

The JSON Schemas in the repository's `contracts/` folder are the source of truth;
these modules build and parse exactly what those schemas describe, and the contract
tests validate what they emit.
"""
