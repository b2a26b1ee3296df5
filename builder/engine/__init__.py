"""The bot graph engine: the DSL (pydantic), its validation, and later its compilation to LangGraph.

Nothing here imports Django: the engine is a library the Django apps call, not the other way round.
"""
