"""Training of the classifier heads: the same functions the CLI (`triage model train`) and notebooks call."""

from classifier.training.train import TrainingOptions, TrainingReport, train_artifact

__all__ = ["TrainingOptions", "TrainingReport", "train_artifact"]
