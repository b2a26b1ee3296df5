from django.urls import path

from builder.bots import apis

urlpatterns = [
    path("workspaces/<uuid:workspace_id>/bots/", apis.BotListApi.as_view(), name="bot-list"),
    path("workspaces/<uuid:workspace_id>/bots/import", apis.BotImportApi.as_view(), name="bot-import"),
    path("bots/<uuid:bot_id>/", apis.BotDetailApi.as_view(), name="bot-detail"),
    path("bots/<uuid:bot_id>/draft", apis.BotDraftApi.as_view(), name="bot-draft"),
    path("bots/<uuid:bot_id>/publish", apis.BotPublishApi.as_view(), name="bot-publish"),
    path("bots/<uuid:bot_id>/versions/", apis.BotVersionListApi.as_view(), name="bot-version-list"),
    path("bots/<uuid:bot_id>/versions/<int:number>/", apis.BotVersionDetailApi.as_view(), name="bot-version-detail"),
    path("bots/<uuid:bot_id>/versions/<int:number>/rollback", apis.BotRollbackApi.as_view(), name="bot-rollback"),
    path("bots/<uuid:bot_id>/versions/<int:number>/restore", apis.BotRestoreApi.as_view(), name="bot-restore"),
    path("bots/<uuid:bot_id>/diff", apis.BotDiffApi.as_view(), name="bot-diff"),
    path("bots/<uuid:bot_id>/export", apis.BotExportApi.as_view(), name="bot-export"),
    path("bots/<uuid:bot_id>/grants/", apis.BotGrantListApi.as_view(), name="bot-grant-list"),
    path("bots/<uuid:bot_id>/grants/<uuid:user_id>", apis.BotGrantDetailApi.as_view(), name="bot-grant-detail"),
]
