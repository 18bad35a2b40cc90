"""Idempotency-Key: the OpenAPI, the code and the stored record say the same thing.

The real API handler runs on an embedded S3/SQS; the record it writes under idempotency/ is
read back and validated, and so are its answers to repeats and reused keys.
"""

from __future__ import annotations

import json
import re

from csvprof.contracts import idempotency, keys
from csvprof.errors import IdempotencyKeyReused, InvalidHeader, UploadAlreadyCompleted
from tests.support.contracts import assert_valid, openapi
from tests.support.pipeline import Pipeline

CSV = b"id,amount\n1,9.5\n2,3\n"


def _header(operation_id: str) -> dict[str, object]:
    spec = openapi()
    [op] = [o for ops in spec["paths"].values() for o in ops.values() if o.get("operationId") == operation_id]
    params = [spec["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]] for p in op["parameters"]]
    [header] = [p for p in params if p["in"] == "header"]
    return {**header, "responses": op["responses"]}


def test_the_openapi_header_is_the_one_the_code_checks() -> None:
    for operation_id in ("createDataset", "startUpload"):
        header = _header(operation_id)
        assert header["name"] == idempotency.HEADER
        schema = header["schema"]
        assert isinstance(schema, dict)
        assert (schema["minLength"], schema["maxLength"]) == (1, idempotency.MAX_KEY_LENGTH)
        # The OpenAPI's pattern and the code's accept the same characters.
        for code in range(128):
            char = chr(code)
            assert bool(re.fullmatch(schema["pattern"], char)) == (char.isascii() and char.isprintable())
        responses = header["responses"]
        assert isinstance(responses, dict)
        assert {str(InvalidHeader.http_status), str(IdempotencyKeyReused.http_status)} <= set(responses)
    assert str(UploadAlreadyCompleted.http_status) in _header("startUpload")["responses"]  # type: ignore[operator]


def _records(pipeline: Pipeline) -> list[str]:
    listed = pipeline.stack.s3().list_objects_v2(
        Bucket=pipeline.stack.settings.bucket, Prefix=keys.IDEMPOTENCY_PREFIX
    )
    return [item["Key"] for item in listed.get("Contents", [])]


def test_the_stored_record_and_the_answers_match_their_schemas(pipeline: Pipeline) -> None:
    headers = {"content-type": "text/csv", "idempotency-key": "contract-key-1"}
    status, first = pipeline.call("POST", "/datasets", CSV, headers=headers, query={"name": "a.csv"})
    assert status == 202
    again_status, again = pipeline.call("POST", "/datasets", CSV, headers=headers, query={"name": "a.csv"})
    assert (again_status, again) == (202, first)
    assert_valid("api-dataset-accepted", again)

    [key] = _records(pipeline)
    assert_valid("s3-keys", key)
    record = pipeline.s3_json(key)
    assert_valid("idempotency-record", record)
    assert record["dataset_id"] == first["dataset_id"]
    assert key == keys.idempotency_key(
        idempotency.key_hash("POST /datasets", idempotency.IdempotencyKey("contract-key-1"))
    )

    status, refused = pipeline.call("POST", "/datasets", b"x\n1\n", headers=headers, query={"name": "a.csv"})
    assert (status, refused["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert_valid("api-error", refused)
    status, bad = pipeline.call("POST", "/uploads", headers={"idempotency-key": "tab\there"})
    assert (status, bad["code"]) == (400, "INVALID_HEADER")
    assert_valid("api-error", bad)


def test_a_repeated_upload_start_is_a_valid_answer_for_the_same_id(pipeline: Pipeline) -> None:
    headers = {"idempotency-key": "contract-key-2"}
    status, first = pipeline.call("POST", "/uploads", headers=headers, query={"name": "big.csv"})
    assert status == 201
    status, again = pipeline.call("POST", "/uploads", headers=headers, query={"name": "big.csv"})
    assert status == 201
    assert_valid("api-upload-started", again)
    assert again["dataset_id"] == first["dataset_id"]
    assert json.dumps(again["links"]) == json.dumps(first["links"])
