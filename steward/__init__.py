"""Project summaries and next-task suggestions."""
