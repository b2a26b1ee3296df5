from django.urls import path

from builder.conversations import apis, sse
from builder.conversations.chat_schema import ChatApi
from builder.core.schema import documented_by

urlpatterns = [
    path("bots/<uuid:bot_id>/conversations", apis.ConversationCreateApi.as_view(), name="conversation-create"),
    path("bots/<uuid:bot_id>/chat", documented_by(ChatApi)(sse.chat), name="bot-chat"),
    path("conversations/<uuid:conversation_id>/messages", apis.MessageListApi.as_view(), name="message-list"),
    path("runs/<uuid:run_id>", apis.RunDetailApi.as_view(), name="run-detail"),
    path("runs/<uuid:run_id>/cancel", apis.RunCancelApi.as_view(), name="run-cancel"),
    path("runs/<uuid:run_id>/answer", apis.RunAnswerApi.as_view(), name="run-answer"),
]
