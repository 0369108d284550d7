"""Tests of the provider sandbox."""
