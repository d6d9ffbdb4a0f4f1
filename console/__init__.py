"""Memtune's console: the Gradio UI callbacks and the REST API over memory_core."""
