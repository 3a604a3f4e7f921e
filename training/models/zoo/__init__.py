"""The model zoo: one file per model, each registering its ModelSpec (training.models.registry)."""
