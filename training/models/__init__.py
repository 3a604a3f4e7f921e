"""The model zoo (``registry``: build any registered model by name) and the models' inference code.

Nothing is imported here: ``onnx_model``, ``onnx_classifier``, ``export_metadata``, ``export_manifest``
and ``runtime_choice`` run an exported model without torch, so the answering bundle imports them on a
machine where ``registry`` (torch) cannot load.
"""
