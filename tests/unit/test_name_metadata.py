"""The dataset name in S3 user metadata: ASCII, within S3's 2 KB cap for any name the API accepts."""

from __future__ import annotations

import pytest

from csvprof.adapters.s3 import NAME_METADATA, _name_from_metadata, _name_metadata
from csvprof.domain.datasets import MAX_NAME_LENGTH, check_name

# S3: user-defined metadata is at most 2 KB, the UTF-8 bytes of every key and value summed.
S3_METADATA_MAX_BYTES = 2048


@pytest.mark.parametrize(
    "name",
    [
        "orders.csv",
        "a b/c%d?e=f.csv",
        "=?UTF-8?B?notbase64?=",  # an ASCII name that looks like an encoded word
        "\u00e9" * MAX_NAME_LENGTH,
        "\U0001f600" * MAX_NAME_LENGTH,  # the worst case: 4 UTF-8 bytes per character
        "~" * MAX_NAME_LENGTH,
        "%" * MAX_NAME_LENGTH,  # the worst ASCII case: 3 bytes each once percent-encoded
    ],
)
def test_any_accepted_name_fits_in_s3_metadata_and_comes_back(name: str) -> None:
    assert check_name(name) == name
    metadata = _name_metadata(name)
    (value,) = metadata.values()
    assert value.isascii()
    assert len(NAME_METADATA) + len(value) <= S3_METADATA_MAX_BYTES
    assert _name_from_metadata(value) == name


def test_names_percent_encoded_before_the_base64_form_still_read() -> None:
    assert _name_from_metadata("caf%C3%A9.csv") == "caf\u00e9.csv"
