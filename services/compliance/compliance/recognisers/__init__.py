"""The recognisers: pattern and checksum ones, dictionaries and context, or a local model."""
