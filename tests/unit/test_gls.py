import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labeler.errors import InvalidInput
from labeler.gls import hard_label, smoothing_rate, soft_target, training_arrays, two_class_target
from labeler.schema import Smoothing

# Table 1 of the GLS paper with k = 0.417, r0 = 1: u -> (r, target)
TABLE = {
    3: (-0.251, 1.1255),
    2: (0.166, 0.917),
    1: (0.583, 0.7085),
    0: (1.0, 0.5),
    -1: (0.583, 0.2915),
    -2: (0.166, 0.083),
    -3: (-0.251, -0.1255),
}


@pytest.mark.parametrize("u", sorted(TABLE))
def test_table_one(u):
    r, t = TABLE[u]
    assert smoothing_rate(u) == pytest.approx(r)
    assert soft_target(u) == pytest.approx(t)


def test_u_minus_three_is_flipped_past_zero():
    assert soft_target(-3) < 0 and soft_target(3) > 1
    assert hard_label([-3, 0, 3]).tolist() == [0.0, 0.0, 1.0]


def test_two_class_target_sums_to_one():
    t = two_class_target([-3, 0, 2])
    assert t.shape == (3, 2)
    np.testing.assert_allclose(t.sum(-1), 1.0)
    assert t[1].tolist() == [0.5, 0.5]


@given(st.integers(-3, 3), st.floats(0.0, 0.5), st.floats(0.5, 1.5))
def test_identity(u, k, r0):
    p = Smoothing(k=k, r0=r0)
    r = smoothing_rate(u, p)
    y = 1.0 if u > 0 else 0.0
    assert soft_target(u, p) == pytest.approx((1 - r) * y + r / 2)
    if r0 == 1.0:
        assert soft_target(u, p) == pytest.approx(0.5 + k * u / 2)


@given(st.lists(st.integers(-3, 3), min_size=1, max_size=20))
def test_default_identity_vectorised(us):
    np.testing.assert_allclose(soft_target(us), 0.5 + 0.417 * np.asarray(us) / 2)


def test_out_of_scale_rejected():
    with pytest.raises(InvalidInput):
        smoothing_rate([4])
    with pytest.raises(InvalidInput):
        soft_target([1.5])


def test_policies_and_warmup():
    u = np.array([3.0, 1.0, math.nan, -3.0])
    t, r, mask = training_arrays(u, policy="negative")
    assert t[2] == 0 and r[2] == 0 and mask.tolist() == [1, 1, 1, 1]
    t, r, mask = training_arrays(u, policy="ignore")
    assert mask.tolist() == [1, 1, 0, 1]
    _, _, mask = training_arrays(u, policy="ignore", warmup=True)
    assert mask.tolist() == [1, 0, 0, 1]
    _, _, mask = training_arrays(u, policy="negative", warmup=True)
    assert mask.tolist() == [1, 0, 1, 1]
    with pytest.raises(InvalidInput):
        training_arrays(u, policy="drop")  # type: ignore[arg-type]
