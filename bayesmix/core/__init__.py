"""Knowledge every stage shares, each piece in one place: parameter names, data slots, the
covariance algebra written once for numpy and PyTensor, reading draws, the linear predictor."""
