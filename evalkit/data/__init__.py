"""Data model: codes and labels, loading, validation, episodes and calendar."""

from evalkit.data.dataset import Dataset
from evalkit.data.episodes import care_episodes, episodes
from evalkit.data.load import DatasetError, load, write_dataset

__all__ = ["Dataset", "DatasetError", "care_episodes", "episodes", "load", "write_dataset"]
