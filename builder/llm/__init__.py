"""Model providers: credentials (encrypted), model lists with prices and capabilities, and the
LangChain chat models the engine runs on (``chat_models.WorkspaceChatModels``)."""
