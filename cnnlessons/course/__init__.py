"""The course itself: the lessons and their parameters, executing notebooks, slides, the CLI.

Nothing outside ``cnnlessons.course`` imports from it: the library does not know it is a course.
"""
from .lessons import Lesson, all_lessons, check_parameters, get_lesson

__all__ = ["Lesson", "all_lessons", "check_parameters", "get_lesson"]
