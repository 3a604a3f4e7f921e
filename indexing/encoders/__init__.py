"""Frame encoders: ``registry.get_encoder(name).encode(frames)`` -> L2-normalised float32 vectors.

``base`` (the interface) and ``onnx_encoder`` (ONNX Runtime) need no torch, so the answering
bundle can run on a machine without it; the registry and the torch encoders need the full install.
"""
