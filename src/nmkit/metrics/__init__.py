"""Image-quality and model-evaluation metrics: NEMA flood uniformity, classification scores."""
