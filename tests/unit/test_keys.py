from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csvprof.contracts import keys
from csvprof.errors import InvalidDatasetId
from tests.support.contracts import errors

ID = keys.DatasetId("3f2b8c1e-9a4d-4e7b-8c21-5d6f7a8b9c0d")


def test_keys_follow_the_layout() -> None:
    assert keys.raw_key(ID) == f"raw/{ID}/source.csv"
    assert keys.meta_key(ID) == f"meta/{ID}.json"
    assert keys.profile_key(ID) == f"profiles/{ID}/profile.json"
    assert keys.report_key(ID) == f"profiles/{ID}/report.html"


@pytest.mark.parametrize("builder", [keys.raw_key, keys.meta_key, keys.profile_key, keys.report_key])
def test_built_keys_match_the_s3_keys_contract(builder) -> None:  # type: ignore[no-untyped-def]
    assert errors("s3-keys", builder(keys.new_dataset_id())) == []


@pytest.mark.parametrize(
    "bad",
    [
        ID.upper(),
        "3F2B8C1E-9A4D-4E7B-8C21-5D6F7A8B9C0D",
        "",
        "../meta/x",
        ID + "\n",
        "{" + ID + "}",
        ID.replace("-", ""),
        "x" * 36,
        f"{ID}/../../etc",
    ],
)
def test_invalid_ids_are_rejected_before_any_key_is_built(bad: str) -> None:
    with pytest.raises(InvalidDatasetId):
        keys.parse_dataset_id(bad)


@given(st.uuids())
def test_every_canonical_uuid_round_trips_through_meta_keys(value: uuid.UUID) -> None:
    dataset_id = keys.parse_dataset_id(str(value))
    assert keys.dataset_id_from_meta_key(keys.meta_key(dataset_id)) == dataset_id


@given(st.text(max_size=60))
def test_parsing_never_accepts_a_key_the_builder_would_not_make(text: str) -> None:
    parsed = keys.dataset_id_from_meta_key(text)
    if parsed is not None:
        assert keys.meta_key(parsed) == text


def test_new_ids_are_lowercase_canonical() -> None:
    assert keys.parse_dataset_id(keys.new_dataset_id())


def test_idempotency_keys_are_named_by_a_sha256_and_match_the_contract() -> None:
    from csvprof.contracts.idempotency import IdempotencyKey, key_hash

    digest = key_hash("POST /datasets", IdempotencyKey("order-42"))
    assert digest != key_hash("POST /uploads", IdempotencyKey("order-42"))  # scoped per route
    assert keys.idempotency_key(digest) == f"idempotency/{digest}.json"
    assert errors("s3-keys", keys.idempotency_key(digest)) == []


@pytest.mark.parametrize("bad", ["order-42", "A" * 64, "0" * 63, "../" + "0" * 61])
def test_an_idempotency_key_is_never_named_by_client_text(bad: str) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        keys.idempotency_key(bad)
