"""ONNX exports of trained models: trace, quantise, measure against torch, write the manifest (torch, the full install).

The torch-free classes that run an export at answer time live beside the models' inference code
(``training.models.onnx_model``, ``onnx_classifier``, ``export_metadata``, ``export_manifest``,
``runtime_choice``), so a small machine can load what this package wrote.
"""
