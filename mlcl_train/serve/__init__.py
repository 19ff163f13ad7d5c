"""A trained run put to use: predict, the drawing demo, ONNX export."""
