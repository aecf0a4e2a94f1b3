"""Datasets for the lessons, offline by default."""
from .procedural import CLASS_NAMES, SHAPES, make_shapes
from .targets import (OFFLINE_TARGETS, SIMILAR_CLASSES, SOURCE_CLASSES, TargetData, digits_target,
                      load_target, similar_target, subsample, subsample_indices)

__all__ = ["CLASS_NAMES", "SHAPES", "make_shapes",
           "OFFLINE_TARGETS", "SIMILAR_CLASSES", "SOURCE_CLASSES", "TargetData", "digits_target",
           "load_target", "similar_target", "subsample", "subsample_indices"]
