"""Polls: single, multiple (approval) and ranked choice, with live and recountable results."""
