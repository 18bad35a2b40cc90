"""The embedded local stack: moto in server mode plus the Lambda plumbing AWS would provide.

`EmbeddedStack` owns the emulated resources, `LocalRuntime` plays API Gateway and the
SQS event source mapping in front of the real handlers; `testdata` writes the seeded CSVs
the tests and benchmarks profile. Nothing here runs on AWS (deploy/package.py leaves it out).
"""
