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
                       "the training networks' 10 to 30): their predictions are extrapolations")
    assert range_warning(trained, None) is None


def test_an_agg_v2_feature_is_named_in_words_with_its_values_unlogged():
    from dnncost.learn.features import FEATURE_NAMES

    pixels = FEATURE_NAMES.index("log_input_pixels")
    trained = np.zeros((2, len(FEATURE_NAMES)))
    trained[:, pixels] = np.log1p(224 * 224)  # every training network at 224 x 224
    asked = trained[:1].copy()
    asked[0, pixels] = np.log1p(96 * 96)
    assert range_warning(asked, feature_ranges(trained)) == (
        "1 of 1 networks lie outside the training networks' range (e.g. pixels of the first "
        "layer's input 9,216, the training networks' 50,176): their predictions are "
        "extrapolations")
