"""Packaging and deployment of the CloudFormation stacks in infra/cloudformation/.

`outputs` holds the stack and output names the templates export and the tests read;
`package` builds the Lambda zip; `stacks` deploys through change sets. Run it as
`python -m csvprof.deploy --help`.
"""
