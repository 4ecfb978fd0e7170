"""The model labeler: a student bundle run with ONNX Runtime."""
