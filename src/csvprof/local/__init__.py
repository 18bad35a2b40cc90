"""The embedded local stack: moto in server mode plus the Lambda plumbing AWS would provide.

`EmbeddedStack` owns the emulated resources, `LocalRuntime` plays API Gateway and the
SQS event source mapping in front of the real handlers. Nothing here runs on AWS.
"""
