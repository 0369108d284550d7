"""User-editable message templates: Jinja's immutable sandbox with bounded values, a time
budget checked inside every loop, checked when saved and rendered within limits everywhere.
"""
