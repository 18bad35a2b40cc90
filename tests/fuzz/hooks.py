"""Schemathesis hooks (SCHEMATHESIS_HOOKS=tests.fuzz.hooks): SigV4 on every request, text bodies.

Every route uses AWS_IAM authorization, so each request schemathesis sends is signed for
`execute-api` with the key pair the local API accepts. The signature covers the method,
URL, query and body, so it is computed by a `requests` auth object: requests calls it on
the final prepared request, after schemathesis (and its hooks) built every part of it.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import schemathesis
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from requests import PreparedRequest
from requests.auth import AuthBase

SERVICE = "execute-api"


class SigV4RequestsAuth(AuthBase):
    """botocore's SigV4 over a prepared request: adds Authorization and X-Amz-Date."""

    def __init__(self, credentials: Credentials, region: str) -> None:
        self.credentials = credentials
        self.region = region

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        if not isinstance(body, bytes):
            raise TypeError(f"cannot sign a streamed body ({type(body).__name__})")
        url = request.url or ""
        # Only host and X-Amz-Date are signed: what curl --aws-sigv4 signs too.
        signed = AWSRequest(method=request.method, url=url, data=body, headers={"host": urlsplit(url).netloc})
        SigV4Auth(self.credentials, SERVICE, self.region).add_auth(signed)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in signed.headers:
                request.headers[name] = signed.headers[name]
        return request


@schemathesis.hook
def filter_body(context: schemathesis.HookContext, body: object) -> bool:
    """Keep only bodies that are text: the one request body here is a CSV (bytes on the wire).

    A negative case that changes the body's type (to an array, object or number) is sent as its
    text, and `[]` or `{}` is a well-formed one-column CSV that the API rightly accepts.
    schemathesis makes that allowance for text/plain only, not for text/csv or application/csv.
    Negative bodies that are still text (the empty one, 400 EMPTY_BODY) stay.
    """
    return isinstance(body, str | bytes)


schemathesis.auth.set_from_requests(
    SigV4RequestsAuth(
        Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]),
        os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    )
)
