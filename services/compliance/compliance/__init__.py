"""fraudstream compliance: personal data found in uploaded documents, routed and reported."""
