"""Adapting a trained estimator to one device: the one path `adapt` and `evaluate` share.

The estimator places the device from its measurements (learn/models.py,
learn/placement.py); collaborative xgb and lstm models then shift by the shrunk mean log
residual over every network the device measured (the low-rank models need none: they
place the device from all of them).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

import numpy as np

from dnncost.learn.device_model import DeviceModel
from dnncost.learn.sequence import SEQUENCE_SET
from dnncost.records import Device

CALIBRATION_PRIOR = 5.0  # pseudo-measurements shrinking the calibration shift to 0
CALIBRATED_MODELS = ("xgb", "lstm")


def adapt_estimator(estimator: Any, model: str, mode: str, measured: Mapping[str, float],
                    device: Device | None = None) -> tuple[DeviceModel, float]:
    """The device model of ``measured`` (network name -> ms) and its calibration shift
    (log ms; 0 where the model takes none)."""
    adapted = estimator.adapt(measured, device)
    if model not in CALIBRATED_MODELS or mode == "individual":
        return adapted, 0.0
    return adapted, calibrate(adapted, estimator, measured)


def calibrate(model: DeviceModel, estimator: Any, measured: Mapping[str, float]) -> float:
    """Shift an adapted xgb/lstm model by the shrunk mean log residual over every network
    the device measured (its signature and any others); returns the shift (log ms).
    The low-rank models need none: they place the device from all its measurements."""
    names = list(measured)
    if not names:  # a combined-mode device given by its hardware alone
        return 0.0
    rows = [estimator.network_names_.index(n) for n in names]
    exp = model.exportable
    x = estimator.sequences_[rows] if exp.feature_set.startswith(SEQUENCE_SET) \
        else estimator.features_[rows]
    residual = np.log([measured[n] for n in names]) - exp.predict_log_ms(x)
    shift = float(residual.sum() / (len(residual) + CALIBRATION_PRIOR))
    if exp.module is not None:
        exp.module.bias_log_ms.add_(shift)
    else:
        model.exportable = replace(exp, bias_log_ms=exp.bias_log_ms + shift)
    model.known_log_ms = {n: v + shift for n, v in model.known_log_ms.items()}
    return shift
