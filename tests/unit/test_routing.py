from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csvprof.domain.routing import bucket_of, choose_route


def ids(n: int) -> list[str]:
    return [str(uuid.UUID(int=i * 7919 + 17, version=4)) for i in range(n)]


@pytest.mark.parametrize(
    ("dataset_id", "bucket"),
    [
        ("3f2b8c1e-9a4d-4e7b-8c21-5d6f7a8b9c0d", 92),
        ("00000000-0000-4000-8000-000000000000", 18),
        ("ffffffff-ffff-4fff-bfff-ffffffffffff", 80),
        ("a1b2c3d4-e5f6-4789-8abc-def012345678", 82),
    ],
)
def test_buckets_are_stable_across_versions(dataset_id: str, bucket: int) -> None:
    # Pinned: a change to the hash would re-route datasets mid-rollout between API versions.
    assert bucket_of(dataset_id) == bucket
    assert choose_route(dataset_id, bucket) == "blue"
    assert choose_route(dataset_id, bucket + 1) == "green"


def test_weight_zero_is_all_blue_and_hundred_all_green() -> None:
    sample = ids(500)
    assert {choose_route(i, 0) for i in sample} == {"blue"}
    assert {choose_route(i, 100) for i in sample} == {"green"}


@pytest.mark.parametrize("weight", [10, 25, 50, 90])
def test_split_converges_to_the_weight(weight: int) -> None:
    sample = ids(20_000)
    green = sum(choose_route(i, weight) == "green" for i in sample) / len(sample)
    assert abs(green - weight / 100) < 0.02


@given(st.uuids(), st.integers(0, 99))
def test_raising_the_weight_never_moves_green_ids_back_to_blue(value: uuid.UUID, weight: int) -> None:
    # Monotone: a canary at 10 % keeps its datasets on green when promoted to 50 %.
    dataset_id = str(value)
    if choose_route(dataset_id, weight) == "green":
        assert choose_route(dataset_id, weight + 1) == "green"


def test_buckets_stay_in_range() -> None:
    assert {bucket_of(i) for i in ids(5000)} <= set(range(100))


@pytest.mark.parametrize("weight", [-1, 101])
def test_out_of_range_weights_are_refused(weight: int) -> None:
    with pytest.raises(ValueError, match="0-100"):
        choose_route(ids(1)[0], weight)
