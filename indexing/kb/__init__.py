"""The knowledge base: markdown files chunked into passages, embedded, kept in Chroma or a plain-file snapshot."""
