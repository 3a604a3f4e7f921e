"""ONNX exports of trained models, and the torch-free runtime that answers with them.

``to_onnx``, ``int8`` and ``run_export`` need torch (the full install); ``metadata`` and
``onnx_model`` need only onnxruntime and numpy, so a small machine can load what they wrote.
"""
