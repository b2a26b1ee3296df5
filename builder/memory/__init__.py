"""Memory of a bot's end users, across conversations (DESIGN.md §6).

- ``core/`` (no Django): long-term memory itself — extract facts after a turn, consolidate them
  with what is remembered, store and recall them through a knowledge index.
- The Django app around it: the facts and each end user's user variables in the database
  (``models.py``, ``catalog.py``), loading and saving user variables around a run and learning
  after a finished turn (``turns.py``, in the background: ``dispatch.py``, ``tasks.py``), recalling
  into llm/agent prompts (``recall.py``), and the APIs for bot editors and for end users.

A run's end user is ``conversation.end_user_id`` (what an API client passes as ``user``) or, without
one, the id of the conversation's user (the builder's debug chat, an API key's creator).
"""
