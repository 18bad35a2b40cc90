"""AWS_IAM authorization as API Gateway does it: verify the request's Signature Version 4.

The signature is recomputed with botocore's own signer (`SigV4Auth` over an `AWSRequest`
made of the received method, target, signed headers and body) using the secret the
gateway knows for the access key, and compared in constant time. No crypto is written
here: a request botocore (or `curl --aws-sigv4`) signs verifies exactly when AWS would.

Not emulated: IAM policies (a known key may call every route), presigned query-string
authentication, and session-token validation (a signed `X-Amz-Security-Token` is
accepted whatever its value, as the local stack issues no temporary credentials).
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.auth import SIGNED_HEADERS_BLACKLIST, SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from csvprof.errors import AccessDenied
from csvprof.local.context import DEFAULT_ACCOUNT_ID

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "execute-api"
# AWS refuses a signature whose X-Amz-Date is more than 5 minutes from its clock.
MAX_CLOCK_SKEW_S = 300

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+"
    r"Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})\s*"
)
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who signed the request: what API Gateway puts in `requestContext.authorizer.iam`."""

    access_key: str
    account_id: str = DEFAULT_ACCOUNT_ID

    @property
    def user_id(self) -> str:
        # An IAM user id's shape (AIDA + 17 characters), stable per access key.
        return "AIDA" + hashlib.sha256(self.access_key.encode()).hexdigest()[:17].upper()

    def authorizer(self) -> dict[str, Any]:
        return {
            "iam": {
                "accessKey": self.access_key,
                "accountId": self.account_id,
                "callerId": self.user_id,
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": f"arn:aws:iam::{self.account_id}:user/csvprof-local",
                "userId": self.user_id,
            }
        }


class SigV4Verifier:
    """Checks SigV4 for service `execute-api` in `region` against known key pairs.

    `credentials` maps access key id to secret access key. `verify` returns the caller
    or raises `AccessDenied` with a message that says what was wrong.
    """

    def __init__(
        self,
        credentials: Mapping[str, str],
        *,
        region: str,
        account_id: str = DEFAULT_ACCOUNT_ID,
        max_skew_s: float = MAX_CLOCK_SKEW_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not credentials:
            raise ValueError("a verifier needs at least one key pair")
        self._secrets = dict(credentials)
        self.region = region
        self.account_id = account_id
        self.max_skew_s = max_skew_s
        self._clock = clock

    def verify(self, *, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Caller:
        lowered: dict[str, str] = {}
        for name, value in headers:
            key = name.lower()
            # Repeated headers are signed comma-joined, as botocore's canonical headers are.
            lowered[key] = f"{lowered[key]},{value.strip()}" if key in lowered else value.strip()
        authorization = lowered.get("authorization")
        if authorization is None:
            raise AccessDenied(
                "the request is not signed: every route uses AWS_IAM authorization, so send an "
                f"AWS Signature Version 4 Authorization header (service {SERVICE}, region {self.region})"
            )
        found = _AUTHORIZATION.fullmatch(authorization.strip())
        if found is None:
            raise AccessDenied(
                f"the Authorization header is not {ALGORITHM} Credential=KEY/DATE/REGION/SERVICE/"
                "aws4_request, SignedHeaders=..., Signature=<64 hex digits>"
            )
        access_key, _, scope = found["credential"].partition("/")
        signed = found["signed"].split(";")
        amz_date = self._checked_date(lowered, signed)
        expected_scope = f"{amz_date[:8]}/{self.region}/{SERVICE}/aws4_request"
        if scope != expected_scope:
            raise AccessDenied(f"the credential scope must be {expected_scope}, got {scope}")
        secret = self._secrets.get(access_key)
        if secret is None:
            raise AccessDenied(
                f"the security token included in the request is invalid: unknown key {access_key}"
            )
        request = self._signed_request(method, target, lowered, signed, body)
        request.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(access_key, secret), SERVICE, self.region)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected, found["signature"]):
            raise AccessDenied(
                "the request signature we calculated does not match the signature you provided; "
                "check your secret access key and signing method"
            )
        return Caller(access_key, self.account_id)

    def _checked_date(self, lowered: Mapping[str, str], signed: list[str]) -> str:
        amz_date = lowered.get("x-amz-date", "")
        if "x-amz-date" not in signed or _AMZ_DATE.fullmatch(amz_date) is None:
            raise AccessDenied("X-Amz-Date (YYYYMMDDTHHMMSSZ) must be sent and signed")
        signed_at = calendar.timegm(time.strptime(amz_date, SIGV4_TIMESTAMP))
        now = self._clock()
        if abs(now - signed_at) > self.max_skew_s:
            now_text = time.strftime(SIGV4_TIMESTAMP, time.gmtime(now))
            raise AccessDenied(
                f"signature expired: {amz_date} is more than {self.max_skew_s:.0f} s "
                f"from the gateway's clock ({now_text})"
            )
        return amz_date

    @staticmethod
    def _signed_request(
        method: str, target: str, lowered: Mapping[str, str], signed: list[str], body: bytes
    ) -> AWSRequest:
        if signed != sorted(set(signed)):
            raise AccessDenied("SignedHeaders must be lowercase, sorted and without repeats")
        if "host" not in signed:
            raise AccessDenied("SignedHeaders must include host")
        unsignable = [name for name in signed if name in SIGNED_HEADERS_BLACKLIST]
        if unsignable:
            raise AccessDenied(f"SignedHeaders names headers SigV4 does not sign: {', '.join(unsignable)}")
        missing = [name for name in signed if name not in lowered]
        if missing:
            raise AccessDenied(f"SignedHeaders names headers the request does not have: {', '.join(missing)}")
        declared = lowered.get("x-amz-content-sha256")
        # botocore takes a sent x-amz-content-sha256 as the payload hash: it must be the body's.
        if declared is not None and declared != hashlib.sha256(body).hexdigest():
            raise AccessDenied(
                "x-amz-content-sha256 is not the SHA-256 of the body; the payload must be signed"
            )
        # An http:// URL: botocore then hashes the body itself, as it does when signing one.
        url = target if target.startswith(("http://", "https://")) else f"http://{lowered['host']}{target}"
        return AWSRequest(method=method, url=url, headers={name: lowered[name] for name in signed}, data=body)
