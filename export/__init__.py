"""dnncost.export: cost models as ONNX files and a small runtime predictor.

- :mod:`~dnncost.export.pipeline`: ``dnncost export`` (model dir + store -> file).
- :mod:`~dnncost.export.onnx_export`: build, check (onnx.checker, parity) and write .onnx;
  :mod:`~dnncost.export.onnx_trees` (XGBoost terms) and :mod:`~dnncost.export.neural` (torch).
- :mod:`~dnncost.export.c_source`: the C data file for android_native/;
  :mod:`~dnncost.export.trees` reads boosters into node arrays.
- :mod:`~dnncost.export.runtime`: predict with numpy + onnxruntime only (features of
  specs and layer tables come from :mod:`dnncost.learn.features`).
- :mod:`~dnncost.export.metadata`: the ``dnncost.*`` metadata_props.
"""
