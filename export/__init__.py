"""dnncost.export: cost models as ONNX files and a small runtime predictor."""
