"""Training, evaluation and prediction of steering models on cached camera frames."""
