"""Networks outside the training networks' feature range are warned about, not refused."""

from __future__ import annotations

import numpy as np

from dnncost.learn.ranges import feature_ranges, range_warning


def test_a_network_inside_the_range_gets_no_warning_and_one_outside_names_its_feature():
    trained = np.array([[1.0, 10.0], [3.0, 30.0]])
    ranges = feature_ranges(trained)
    assert ranges == {"min": [1.0, 10.0], "max": [3.0, 30.0]}
    assert range_warning(np.array([[2.0, 20.0], [3.4, 9.0]]), ranges, ["a", "b"]) is None
    warning = range_warning(np.array([[2.0, 20.0], [2.0, 90.0]]), ranges, ["a", "b"])
    assert warning == ("1 of 2 networks lie outside the training networks' range (e.g. b 90, "
                       "trained on 10..30): their predictions are extrapolations")
    assert range_warning(trained, None) is None
