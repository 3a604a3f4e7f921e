"""The frame index: sample frames, encode them, store vectors in FAISS, search by clip or text, measure retrieval."""
