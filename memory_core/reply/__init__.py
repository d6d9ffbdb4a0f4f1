"""Replies: the chat model's, else the offline responder's, built from what was recalled."""
