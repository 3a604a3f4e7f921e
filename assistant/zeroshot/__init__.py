"""Open-vocabulary scores with CLIP for activities known only from the knowledge base."""
