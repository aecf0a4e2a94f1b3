"""Datasets for the lessons, offline by default."""
from .folder import FolderError, load_folder
from .glyphs import GLYPH_CLASSES, GLYPHS, make_glyphs
from .online import OfflineError, load_online, load_target
from .procedural import CLASS_NAMES, SHAPES, make_shapes
from .targets import (OFFLINE_TARGETS, SIMILAR_CLASSES, SOURCE_CLASSES, TargetData, digits_target,
                      per_class_indices, similar_target, subsample, subsample_indices)

__all__ = ["CLASS_NAMES", "SHAPES", "make_shapes", "GLYPH_CLASSES", "GLYPHS", "make_glyphs", "FolderError",
           "load_folder", "OfflineError", "load_online",
           "OFFLINE_TARGETS", "SIMILAR_CLASSES", "SOURCE_CLASSES", "TargetData", "digits_target",
           "load_target", "per_class_indices", "similar_target", "subsample", "subsample_indices"]
